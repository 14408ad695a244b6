using System.Buffers;
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
        foreach (var (path, value) in FlattenSorted(s)) f.Add(path, value);
        return f.ToImmutable();
    }

    /// <summary>The pairs of <see cref="Flatten"/> as an array sorted ordinally by path. The planner diffs this
    /// against the live snapshot for every service (15,000 per environment in the benchmark,
    /// docs/benchmarks/planner.md); an array filled in path order costs a fraction of a sorted tree.</summary>
    internal static KeyValuePair<string, string>[] FlattenSorted(ServiceSpec s)
    {
        var f = new KeyValuePair<string, string>[18 + s.Health.Checks.Length + s.Config.Count];
        var n = 0;
        void Add(string path, string value) => f[n++] = new(path, value);
        // Written in ordinal path order, so that usually nothing needs sorting (checked below, not assumed).
        Add("artifact.sha256", s.Artifact.Sha256);
        Add("artifact.url", s.Artifact.Url);
        foreach (var (key, value) in s.Config)
            Add("config." + key, Display(value));
        Add("dependsOn", s.DependsOn.Length == 0 ? "" : string.Join(",", s.DependsOn));
        Add("deploy.driver", DriverName(s.Deploy.Driver));
        Add("deploy.keepReleases", Inv(s.Deploy.KeepReleases));
        Add("deploy.path", s.Deploy.Path);
        if (s.Deploy.RestartCommand is not null) Add("deploy.restartCommand", s.Deploy.RestartCommand);
        if (s.Deploy.StopCommand is not null) Add("deploy.stopCommand", s.Deploy.StopCommand);
        for (var i = 0; i < s.Health.Checks.Length; i++)
            Add(i < CheckPaths.Length ? CheckPaths[i] : $"health.checks[{i}]", Describe(s.Health.Checks[i]));
        Add("health.consecutivePasses", Inv(s.Health.ConsecutivePasses));
        Add("health.deadline", Duration(s.Health.Deadline));
        Add("health.interval", Duration(s.Health.Interval));
        Add("health.minHealthy", Duration(s.Health.MinHealthy));
        Add("hostGroup", s.HostGroup);
        if (s.OnFailure is { } onFailure) Add("onFailure", OnFailureNames.TryGetValue(onFailure, out var name) ? name : onFailure.ToString().ToLowerInvariant());
        if (s.Strategy.Kind == StrategyKind.Canary) Add("strategy.canary", Inv(s.Strategy.CanaryHosts));
        Add("strategy.maxParallel", s.Strategy.MaxParallel.ToString());
        Add("strategy.type", StrategyName(s.Strategy.Kind));
        Add("version", s.Version);
        if (n < f.Length) Array.Resize(ref f, n);
        // Out of order only with ten or more checks ("[10]" sorts before "[2]") or config keys not in ordinal
        // order. Paths are unique (fixed names, one per check index, one per config key): an unstable sort is exact.
        for (var i = 1; i < n; i++)
        {
            if (string.CompareOrdinal(f[i - 1].Key, f[i].Key) < 0) continue;
            Array.Sort(f, static (x, y) => string.CompareOrdinal(x.Key, y.Key));
            break;
        }
        return f;
    }

    private static readonly string[] CheckPaths = [.. Enumerable.Range(0, 10).Select(i => $"health.checks[{i}]")];

    private static readonly Dictionary<OnFailure, string> OnFailureNames =
        Enum.GetValues<OnFailure>().ToDictionary(v => v, v => v.ToString().ToLowerInvariant());

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
        // The hashed text is "version=V\nartifact=SHA\nconfig.KEY=DISPLAY\n..." in UTF-8. It is assembled in rented
        // buffers rather than a StringBuilder and a string per call: the planner hashes every service of a plan.
        var length = "version=\n".Length + s.Version.Length + "artifact=\n".Length + s.Artifact.Sha256.Length;
        foreach (var (key, value) in s.Config)
            length += "config.=\n".Length + key.Length + value switch
            {
                ConfigValue.Literal l => l.Value.Length,
                ConfigValue.Secret secret => SecretPrefix.Length + secret.Reference.Length + 1,
                _ => throw new ArgumentOutOfRangeException(nameof(s)),
            };
        var chars = ArrayPool<char>.Shared.Rent(length);
        var bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(length));
        try
        {
            var at = 0;
            void Put(string text)
            {
                text.CopyTo(chars.AsSpan(at));
                at += text.Length;
            }
            Put("version="); Put(s.Version); Put("\n");
            Put("artifact="); Put(s.Artifact.Sha256); Put("\n");
            foreach (var (key, value) in s.Config)
            {
                Put("config."); Put(key); Put("=");
                if (value is ConfigValue.Secret secret) { Put(SecretPrefix); Put(secret.Reference); Put(")"); } // as Display
                else Put(((ConfigValue.Literal)value).Value);
                Put("\n");
            }
            var count = Encoding.UTF8.GetBytes(chars.AsSpan(0, at), bytes);
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(bytes.AsSpan(0, count), hash);
            return Convert.ToHexStringLower(hash);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    /// <summary>Release directory name on a host: version plus a short config hash, so a config change is a
    /// new release and a revert finds the old one still on disk.</summary>
    public static string ReleaseId(ServiceSpec s) => ReleaseId(s, ConfigHash(s));

    /// <summary><see cref="ReleaseId(ServiceSpec)"/> from a hash already computed by <see cref="ConfigHash"/>.</summary>
    internal static string ReleaseId(ServiceSpec s, string configHash) => string.Concat(s.Version, "-", configHash.AsSpan(0, 10));

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
        HealthCheckKind.Http => $"http {c.Url} expect {c.ExpectStatus ?? 200} timeout {Duration(c.Timeout)}",
        HealthCheckKind.Tcp => $"tcp {c.Address ?? "${host.address}"}:{c.Port} timeout {Duration(c.Timeout)}",
        HealthCheckKind.Command => $"command {c.Command} timeout {Duration(c.Timeout)}",
        HealthCheckKind.Consul => $"consul {c.ConsulService} timeout {Duration(c.Timeout)}",
        _ => $"{c.Kind} timeout {Duration(c.Timeout)}",
    };

    private static string Inv(long v) => v.ToString(CultureInfo.InvariantCulture);
}
