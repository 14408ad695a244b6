using System.Collections.Immutable;

namespace Reconciler.Schema.Model;

/// <summary>Thrown when a command names an environment the repo does not define.</summary>
public sealed class UnknownEnvironmentException(string environment, IReadOnlyCollection<string> known)
    : Exception(known.Count == 0
        ? $"unknown environment '{environment}': the repo defines no environments; add environments/{environment}.yaml"
        : $"unknown environment '{environment}'; the repo defines: {string.Join(", ", known.Order(StringComparer.Ordinal))}")
{
    public string Environment { get; } = environment;
    public IReadOnlyCollection<string> Known { get; } = known;
}

/// <summary>Turns the repo model into the desired state of one environment: the planner's input.</summary>
public static class DesiredStateBuilder
{
    /// <summary>
    /// Merges each service's override for <paramref name="environment"/> over its base (config keys merge, every other
    /// field replaces; the loader already merged partial objects such as deploy field by field), drops services with
    /// <c>enabled: false</c>, resolves onFailure (service, then environment, then repository default) and substitutes
    /// <c>${version}</c> in the artifact URL.
    /// </summary>
    public static DesiredState Build(RepoModel model, string environment)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!model.Environments.TryGetValue(environment, out var env))
            throw new UnknownEnvironmentException(environment, model.Environments.Keys.ToList());

        var services = ImmutableSortedDictionary.CreateBuilder<string, ServiceSpec>(StringComparer.Ordinal);
        foreach (var (name, definition) in model.Services)
        {
            var spec = Resolve(definition, environment, env, model.Repository.Defaults);
            if (spec.Enabled) services[name] = spec;
        }

        var toggles = ImmutableSortedDictionary.CreateBuilder<string, DesiredToggle>(StringComparer.Ordinal);
        foreach (var (name, toggle) in model.Toggles)
            toggles[name] = new DesiredToggle(name, toggle.Environments.GetValueOrDefault(environment), toggle.Requires);

        return new DesiredState(environment, model.Revision, env, services.ToImmutable(), toggles.ToImmutable(), model.Repository);
    }

    /// <summary>Where a service runs in one environment, merged as <see cref="Resolve"/> merges it: whether it is enabled,
    /// its host group and deploy settings. Validation checks these across all services without building whole specs.</summary>
    public static (bool Enabled, string HostGroup, DeploySpec Deploy) Placement(ServiceDefinition definition, string environment)
    {
        definition.Overrides.TryGetValue(environment, out var o);
        return (o?.Enabled ?? definition.Base.Enabled, o?.HostGroup ?? definition.Base.HostGroup, o?.Deploy ?? definition.Base.Deploy);
    }

    /// <summary>One service as it should run in one environment (returned even when disabled there).</summary>
    public static ServiceSpec Resolve(ServiceDefinition definition, string environment, EnvironmentSpec? env, Defaults defaults)
    {
        // One copy of the spec per service and environment (15,000 for a large repo): merge into it in one step.
        var s = definition.Base;
        var (enabled, hostGroup, deploy) = Placement(definition, environment);
        definition.Overrides.TryGetValue(environment, out var o);
        var version = o?.Version ?? s.Version;
        var artifact = o?.Artifact ?? s.Artifact;
        var url = artifact.Url.Replace("${version}", version, StringComparison.Ordinal);
        return s with
        {
            Enabled = enabled,
            Version = version,
            Artifact = ReferenceEquals(url, artifact.Url) ? artifact : artifact with { Url = url },
            HostGroup = hostGroup,
            Deploy = deploy,
            Strategy = o?.Strategy ?? s.Strategy,
            Health = o?.Health ?? s.Health,
            Config = o is null || o.Config.IsEmpty ? s.Config : s.Config.SetItems(o.Config),
            OnFailure = o?.OnFailure ?? s.OnFailure ?? env?.OnFailure ?? defaults.OnFailure,
        };
    }
}
