using Reconciler.Diff.Live;
using Reconciler.Schema.Model;

namespace Reconciler.Diff.Planning;

/// <summary>
/// The inputs of a "converged" decision as bytes, so that a caller can recognise a service it saw converged before
/// without the planner decoding or comparing anything (the engine's converged memo digests them, under its own seed).
/// <para>
/// Whether a service is converged (<see cref="ServiceClassifier"/>) is a function of three inputs only: the desired
/// spec's field snapshot (which holds everything the decision reads from the spec: version, artifact, config, deploy,
/// health, strategy, host group, dependsOn), the stored live entry, and the host group's hosts and regions. The keys
/// here cover the first and the last; the caller digests the stored bytes itself. When all three are as they were for a
/// service the planner found converged, the service is converged now, with the same release (the spec key fixes it),
/// and the caller may pass it in <see cref="PlanOptions.KnownConverged"/>.
/// </para>
/// </summary>
public static class ConvergenceKeys
{
    /// <summary>Turns a key into a digest; the caller chooses the hash and its seed.</summary>
    public delegate UInt128 Digest(ReadOnlySpan<byte> key);

    /// <summary>The digest of a spec's key: its name and packed field snapshot. Null (the service is never recognised
    /// by key) when the snapshot cannot be packed exactly, or is not written in path order: only then does the packing
    /// fix the spec's release (<see cref="ServiceFields.ConfigHash"/> hashes the config in the spec's own key order).</summary>
    public static UInt128? Spec(ServiceSpec spec, Digest digest)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(digest);
        return ServiceFields.PackInPathOrder(spec, withName: true) is { IsExact: true } writer ? digest(writer.Written) : null;
    }

    /// <summary>The digest of each host group's key: everything a converged decision reads from a group, its hosts as
    /// declared (name, region, and address and vars for per-host config) and their rollout order (which the environment's region order sets).</summary>
    public static IReadOnlyDictionary<string, UInt128> HostGroups(EnvironmentSpec environment, Digest digest)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(digest);
        var order = new HostOrder(environment);
        var result = new Dictionary<string, UInt128>(StringComparer.Ordinal);
        var writer = new PackedFields.Writer();
        foreach (var name in environment.HostGroups.Keys)
        {
            var group = order.Group(name)!;
            writer.Reset();
            writer.Add("group", name);
            foreach (var h in group.Hosts)
            {
                writer.Add(h.Name, h.Region ?? "\0none");
                // What per-host config renders from (issue 14): a host that moved or changed a var may need a new release.
                writer.Add("address", h.Address);
                foreach (var (variable, value) in h.Vars) writer.Add("var." + variable, value);
            }
            foreach (var h in group.RolloutOrder) writer.Add("rollout", h.Name);
            result[name] = digest(writer.Written);
        }
        return result;
    }
}
