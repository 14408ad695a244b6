using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;

namespace Reconciler.Diff.Tests.Planning;

/// <summary>Builds desired and live states directly (no YAML): an environment "prod" with regions eu, us and a
/// host group "app" of four hosts, one of them without a region.</summary>
public static class PlanFixtures
{
    public const string Env = "prod";

    public static readonly HealthSpec Health = new([new HealthCheckSpec(HealthCheckKind.Tcp, null, null, null, 8080, null, null, TimeSpan.FromSeconds(2))],
        TimeSpan.FromSeconds(1), 2, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30));

    public static HostSpec Host(string name, string? region) =>
        new(name, "10.0.0." + (name.Length + name[^1]), 22, "deploy", null, region, ImmutableSortedDictionary<string, string>.Empty);

    public static EnvironmentSpec Environment(string[]? regions = null, params HostSpec[] appHosts) =>
        new(Env, [.. regions ?? ["eu", "us"]],
            new Dictionary<string, HostGroup>
            {
                ["app"] = new("app", appHosts.Length > 0 ? [.. appHosts] : [Host("app-eu-2", "eu"), Host("app-us-1", "us"), Host("app-eu-1", "eu"), Host("app-0", null)]),
                ["db"] = new("db", [Host("db-1", "eu")]),
            }.ToImmutableSortedDictionary(StringComparer.Ordinal),
            [], null, null);

    public static ServiceSpec Svc(string name, string version = "1.0.0", string[]? deps = null, string group = "app", params (string Key, string Value)[] config) =>
        new(name, true, version, new ArtifactSpec($"artifacts/{name}-${{version}}.tar.gz", "ab".PadRight(64, '0')),
            [.. (deps ?? []).Order(StringComparer.Ordinal)], group,
            new DeploySpec(DriverKind.Ssh, $"/srv/{name}", "./bin/restart", null, 5),
            new StrategySpec(StrategyKind.Rolling, new MaxParallel(25, true), 1), Health,
            config.ToImmutableSortedDictionary(c => c.Key, c => c.Value.StartsWith("secret:", StringComparison.Ordinal)
                ? (ConfigValue)new ConfigValue.Secret(c.Value["secret:".Length..]) : new ConfigValue.Literal(c.Value), StringComparer.Ordinal),
            null, null);

    public static DesiredToggle Toggle(string name, bool on, params (string Service, string Range)[] requires) =>
        new(name, on, requires.ToImmutableSortedDictionary(r => r.Service, r => r.Range, StringComparer.Ordinal));

    public static DesiredState Desired(IEnumerable<ServiceSpec> services, IEnumerable<DesiredToggle>? toggles = null, EnvironmentSpec? environment = null) =>
        new(Env, "c0ffee0000000000000000000000000000000001", environment ?? Environment(),
            services.ToImmutableSortedDictionary(s => s.Name, s => s, StringComparer.Ordinal),
            (toggles ?? []).ToImmutableSortedDictionary(t => t.Name, t => t, StringComparer.Ordinal),
            new RepositorySpec(null, new Defaults(5, OnFailure.Rollback, new StrategySpec(StrategyKind.Rolling, new MaxParallel(25, true), 1), Health), [], null));

    /// <summary>The live state apply would leave behind after applying <paramref name="desired"/> completely.</summary>
    public static LiveState Applied(DesiredState desired, long version = 7)
    {
        var services = desired.Services.Values.ToImmutableSortedDictionary(s => s.Name, s =>
        {
            var release = ServiceFields.ReleaseId(s);
            return new LiveService(s.Name, s.Version, release, ServiceFields.ConfigHash(s), "base000", s.DependsOn, ServiceFields.Flatten(s),
                desired.EnvironmentSpec.HostGroups[s.HostGroup].Hosts.ToImmutableSortedDictionary(h => h.Name, h => new LiveHost(h.Name, release, null), StringComparer.Ordinal));
        }, StringComparer.Ordinal);
        var toggles = desired.Toggles.Values.ToImmutableSortedDictionary(t => t.Name, t => new LiveToggle(t.Name, t.Enabled, "base000"), StringComparer.Ordinal);
        return new LiveState(desired.Environment, version, services, toggles, "base000");
    }

    public static LiveState Empty => LiveState.Empty(Env);

    /// <summary>One line per wave, e.g. "1:deploy[api=upgrade,web=create] before(t1) after(t2)"; "no changes" when empty.</summary>
    public static string Summary(Plan plan)
    {
        if (plan.Waves.IsEmpty) return "no changes";
        var actions = plan.Services.ToDictionary(s => s.Service, s => Kebab(s.Action.ToString()));
        return string.Join(" | ", plan.Waves.Select(w =>
            $"{w.Index}:{w.Kind.ToString().ToLowerInvariant()}[{string.Join(",", w.Services.Select(s => $"{s}={actions[s]}"))}]"
            + (w.TogglesBefore.IsEmpty ? "" : $" before({string.Join(",", w.TogglesBefore)})")
            + (w.TogglesAfter.IsEmpty ? "" : $" after({string.Join(",", w.TogglesAfter)})")));
    }

    private static string Kebab(string s) => s == "NoOp" ? "no-op" : s.ToLowerInvariant();
}
