using System.Collections.Concurrent;
using System.IO.Hashing;

namespace Reconciler.Diff.Live;

/// <summary>
/// What earlier plans found converged, so that the next plan recognises it without decoding the stored service or
/// comparing its fields: most services of a large repo are unchanged from one commit to the next.
/// <para>
/// Whether a service is converged (<see cref="Planning.ServiceClassifier"/>) is a function of three inputs only: the
/// desired spec's field snapshot (which holds everything the decision reads from the spec: version, artifact, config,
/// deploy, health, strategy, host group, dependsOn), the stored live entry, and the host group's hosts and regions. An
/// entry holds a digest of each (128-bit XxHash3 under a random seed of this memo, so that nobody can aim a commit at a
/// collision), and it matches only when all three digests are equal now: a stale entry can never match. Services that
/// are not converged are never listed, and the plan built with a memo is the plan built without one (a test holds the
/// planner to that).
/// </para>
/// <para>Holds no I/O: the CLI keeps one per environment and state store on disk (ConvergedMemoFile).</para>
/// </summary>
public sealed class ConvergedMemo
{
    private readonly Dictionary<string, Entry> _known;
    private readonly ConcurrentDictionary<string, Entry> _found = new(StringComparer.Ordinal);
    private int _hits;

    /// <summary>A digest triple (stored live entry, desired spec, host group) and the release the spec makes, which the
    /// spec digest determines (it is a hash over part of what the digest covers), kept to spare a hash per service.</summary>
    public readonly record struct Entry(string Service, UInt128 Live, UInt128 Spec, UInt128 Group, string Release);

    public ConvergedMemo(ulong seed, IEnumerable<Entry> known)
    {
        Seed = seed;
        _known = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var e in known) _known[e.Service] = e;
    }

    /// <summary>An empty memo with a new random seed.</summary>
    public static ConvergedMemo Create() => new(BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)), []);

    public ulong Seed { get; }

    /// <summary>Entries this memo started with.</summary>
    public int Known => _known.Count;

    /// <summary>Services the planner found converged through an entry (no decoding, no field comparison).</summary>
    public int Hits => _hits;

    /// <summary>Every service found converged while planning with this memo, by entry or by comparison: what the next
    /// plan's memo should hold.</summary>
    public IReadOnlyCollection<Entry> Found => [.. _found.Values.OrderBy(e => e.Service, StringComparer.Ordinal)];

    /// <summary>This memo's digest of some bytes: a stored service as a store reader attaches it
    /// (<see cref="LiveService.FromStoredBytes"/>), a packed spec, a host group.</summary>
    public UInt128 Digest(ReadOnlySpan<byte> bytes) => XxHash128.HashToUInt128(bytes, (long)Seed);

    /// <summary>True when an entry names this service with these stored bytes: a store reader may then defer decoding
    /// them (<see cref="LiveService.Deferred"/>), since the planner will likely not need them.</summary>
    public bool MayMatch(string service, UInt128 live) => _known.TryGetValue(service, out var e) && e.Live == live;

    internal bool TryMatch(string service, UInt128 live, UInt128 spec, UInt128 group, out string release)
    {
        release = "";
        if (!_known.TryGetValue(service, out var e) || e.Live != live || e.Spec != spec || e.Group != group) return false;
        Interlocked.Increment(ref _hits);
        release = e.Release;
        return true;
    }

    internal void Record(string service, UInt128 live, UInt128 spec, UInt128 group, string release) =>
        _found[service] = new Entry(service, live, spec, group, release);
}
