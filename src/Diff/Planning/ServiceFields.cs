using System.Collections.Immutable;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Reconciler.Schema.Model;

namespace Reconciler.Diff.Planning;

/// <summary>
/// Flattens a service spec into "field path -> display value" pairs. The live state keeps this snapshot of
/// what was applied, and the planner diffs two snapshots field by field. Secret values never appear: a
/// secret is shown as "secret(env:NAME)".
/// </summary>
public static class ServiceFields
{
    public const string SecretPrefix = "secret(";

    public static ImmutableSortedDictionary<string, string> Flatten(ServiceSpec s)
    {
        var f = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        f["version"] = s.Version;
        f["artifact.url"] = s.Artifact.Url;
        f["artifact.sha256"] = s.Artifact.Sha256;
        f["hostGroup"] = s.HostGroup;
        f["dependsOn"] = string.Join(",", s.DependsOn);
        f["deploy.driver"] = DriverName(s.Deploy.Driver);
        f["deploy.path"] = s.Deploy.Path;
        if (s.Deploy.RestartCommand is not null) f["deploy.restartCommand"] = s.Deploy.RestartCommand;
        if (s.Deploy.StopCommand is not null) f["deploy.stopCommand"] = s.Deploy.StopCommand;
        f["deploy.keepReleases"] = Inv(s.Deploy.KeepReleases);
        f["strategy.type"] = StrategyName(s.Strategy.Kind);
        f["strategy.maxParallel"] = s.Strategy.MaxParallel.ToString();
        if (s.Strategy.Kind == StrategyKind.Canary) f["strategy.canary"] = Inv(s.Strategy.CanaryHosts);
        if (s.OnFailure is { } onFailure) f["onFailure"] = onFailure.ToString().ToLowerInvariant();
        f["health.interval"] = Duration(s.Health.Interval);
        f["health.consecutivePasses"] = Inv(s.Health.ConsecutivePasses);
        f["health.minHealthy"] = Duration(s.Health.MinHealthy);
        f["health.deadline"] = Duration(s.Health.Deadline);
        for (var i = 0; i < s.Health.Checks.Length; i++)
            f[$"health.checks[{i}]"] = Describe(s.Health.Checks[i]);
        foreach (var (key, value) in s.Config)
            f[$"config.{key}"] = Display(value);
        return f.ToImmutable();
    }

    /// <summary>Fields whose change needs a new release on the hosts (not just a state update).</summary>
    public static bool NeedsNewRelease(string path) =>
        path is "version" or "artifact.url" or "artifact.sha256" or "deploy.path" or "deploy.restartCommand"
        || path.StartsWith("config.", StringComparison.Ordinal);

    public static bool IsSecret(string displayValue) => displayValue.StartsWith(SecretPrefix, StringComparison.Ordinal);

    public static string Display(ConfigValue value) => value switch
    {
        ConfigValue.Literal l => l.Value,
        ConfigValue.Secret s => $"{SecretPrefix}{s.Reference})",
        _ => throw new ArgumentOutOfRangeException(nameof(value)),
    };

    /// <summary>Hash of everything that goes into a release's files: version, artifact and config (secret
    /// references, not values). Hex, lowercase.</summary>
    public static string ConfigHash(ServiceSpec s)
    {
        var sb = new StringBuilder();
        sb.Append("version=").Append(s.Version).Append('\n');
        sb.Append("artifact=").Append(s.Artifact.Sha256).Append('\n');
        foreach (var (key, value) in s.Config)
            sb.Append("config.").Append(key).Append('=').Append(Display(value)).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    /// <summary>Release directory name on a host: version plus a short config hash, so a config change is a
    /// new release and a revert finds the old one still on disk.</summary>
    public static string ReleaseId(ServiceSpec s) => $"{s.Version}-{ConfigHash(s)[..10]}";

    public static string DriverName(DriverKind d) => d switch
    {
        DriverKind.Ssh => "ssh",
        DriverKind.Local => "local",
        DriverKind.ConsulKv => "consul-kv",
        _ => throw new ArgumentOutOfRangeException(nameof(d)),
    };

    public static string StrategyName(StrategyKind k) => k switch
    {
        StrategyKind.Rolling => "rolling",
        StrategyKind.Canary => "canary",
        StrategyKind.BlueGreen => "blue-green",
        _ => throw new ArgumentOutOfRangeException(nameof(k)),
    };

    public static string Duration(TimeSpan t) =>
        t.TotalMilliseconds % 1000 != 0 ? $"{Inv((long)t.TotalMilliseconds)}ms"
        : t.TotalSeconds % 60 != 0 || t == TimeSpan.Zero ? $"{Inv((long)t.TotalSeconds)}s"
        : $"{Inv((long)t.TotalMinutes)}m";

    private static string Describe(HealthCheckSpec c) => c.Kind switch
    {
        HealthCheckKind.Http => $"http {c.Url} expect {c.ExpectStatus ?? 200}",
        HealthCheckKind.Tcp => $"tcp {c.Address ?? "${host.address}"}:{c.Port}",
        HealthCheckKind.Command => $"command {c.Command}",
        HealthCheckKind.Consul => $"consul {c.ConsulService}",
        _ => c.Kind.ToString(),
    } + $" timeout {Duration(c.Timeout)}";

    private static string Inv(long v) => v.ToString(CultureInfo.InvariantCulture);
}
