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
        // The hashed text is "version=V\nartifact=SHA\nconfig.KEY=DISPLAY\n..." in UTF-8. It is assembled in one
        // pass over the config in a rented buffer rather than a StringBuilder and a string per call: the planner
        // hashes every service of a plan.
        var chars = ArrayPool<char>.Shared.Rent(1024);
        var at = 0;
        Put(ref chars, ref at, "version="); Put(ref chars, ref at, s.Version);
        Put(ref chars, ref at, "\nartifact="); Put(ref chars, ref at, s.Artifact.Sha256);
        foreach (var (key, value) in s.Config)
        {
            Put(ref chars, ref at, "\nconfig."); Put(ref chars, ref at, key); Put(ref chars, ref at, "=");
            switch (value) // as Display
            {
                case ConfigValue.Literal l: Put(ref chars, ref at, l.Value); break;
                case ConfigValue.Secret secret:
                    Put(ref chars, ref at, SecretPrefix); Put(ref chars, ref at, secret.Reference); Put(ref chars, ref at, ")");
                    break;
                default: throw new ArgumentOutOfRangeException(nameof(s));
            }
        }
        Put(ref chars, ref at, "\n");
        var bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(at));
        try
        {
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

    /// <summary>Appends <paramref name="text"/> to a rented buffer, renting a larger one when it is full.</summary>
    private static void Put(ref char[] chars, ref int at, string text)
    {
        if (chars.Length - at < text.Length)
        {
            var larger = ArrayPool<char>.Shared.Rent(Math.Max(chars.Length * 2, at + text.Length));
            chars.AsSpan(0, at).CopyTo(larger);
            ArrayPool<char>.Shared.Return(chars);
            chars = larger;
        }
        text.CopyTo(chars.AsSpan(at));
        at += text.Length;
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

    public static string Duration(TimeSpan t)
    {
        Span<char> buffer = stackalloc char[MaxDurationLength];
        return new string(buffer[..FormatDuration(t, buffer)]);
    }

    private const int MaxDurationLength = 24; // a long and a unit

    /// <summary><see cref="Duration"/> into <paramref name="destination"/> (at least <see cref="MaxDurationLength"/>
    /// long); returns the characters written.</summary>
    private static int FormatDuration(TimeSpan t, Span<char> destination)
    {
        var (value, unit) = t.TotalMilliseconds % 1000 != 0 ? ((long)t.TotalMilliseconds, "ms")
            : t.TotalSeconds % 60 != 0 || t == TimeSpan.Zero ? ((long)t.TotalSeconds, "s")
            : ((long)t.TotalMinutes, "m");
        value.TryFormat(destination, out var n, default, CultureInfo.InvariantCulture);
        unit.CopyTo(destination[n..]);
        return n + unit.Length;
    }

    private static string Describe(HealthCheckSpec c)
    {
        Span<char> buffer = stackalloc char[256];
        if (TryDescribe(c, buffer, out var n)) return new string(buffer[..n]);
        for (var size = 1024; ; size *= 2)
        {
            var heap = new char[size];
            if (TryDescribe(c, heap, out n)) return new string(heap, 0, n);
        }
    }

    /// <summary>A check as one line, e.g. "http URL expect 200 timeout 2s", into <paramref name="destination"/>;
    /// false when it does not fit.</summary>
    private static bool TryDescribe(HealthCheckSpec c, Span<char> destination, out int written)
    {
        var fits = c.Kind switch
        {
            HealthCheckKind.Http => destination.TryWrite($"http {c.Url} expect {c.ExpectStatus ?? 200} timeout ", out written),
            HealthCheckKind.Tcp => destination.TryWrite($"tcp {c.Address ?? "${host.address}"}:{c.Port} timeout ", out written),
            HealthCheckKind.Command => destination.TryWrite($"command {c.Command} timeout ", out written),
            HealthCheckKind.Consul => destination.TryWrite($"consul {c.ConsulService} timeout ", out written),
            _ => destination.TryWrite($"{c.Kind} timeout ", out written),
        };
        if (!fits || destination.Length - written < MaxDurationLength) return false;
        written += FormatDuration(c.Timeout, destination[written..]);
        return true;
    }

    /// <summary>
    /// True when <see cref="FlattenSorted"/> of <paramref name="s"/> is exactly <paramref name="fields"/> (same
    /// paths, same values), decided without building it: a converged service, the common case, then costs a walk
    /// over the live snapshot and no strings. False when anything differs, and also for the specs whose fields
    /// need sorting (ten or more checks, config under another comparer) or do not fit the buffer; the caller then
    /// diffs in full, which gives the same answer.
    /// </summary>
    internal static bool FieldsEqual(ServiceSpec s, ImmutableSortedDictionary<string, string> fields)
    {
        var checks = s.Health.Checks;
        if (checks.Length > CheckPaths.Length || !ReferenceEquals(s.Config.KeyComparer, StringComparer.Ordinal)
            || !ReferenceEquals(fields.KeyComparer, StringComparer.Ordinal))
            return false;
        var count = 14 + checks.Length + s.Config.Count + (s.Deploy.RestartCommand is null ? 0 : 1) + (s.Deploy.StopCommand is null ? 0 : 1)
                    + (s.OnFailure is null ? 0 : 1) + (s.Strategy.Kind == StrategyKind.Canary ? 1 : 0);
        if (fields.Count != count) return false;

        // The same paths in the same order as FlattenSorted writes them; equal counts make the walk exhaustive.
        var live = new FieldWalk(fields);
        try
        {
            Span<char> buffer = stackalloc char[256];
            if (!live.Next("artifact.sha256", s.Artifact.Sha256) || !live.Next("artifact.url", s.Artifact.Url)) return false;
            foreach (var (key, value) in s.Config)
                if (!live.NextConfig(key, value)) return false;
            if (!live.NextJoined("dependsOn", s.DependsOn)) return false;
            if (!live.Next("deploy.driver", DriverName(s.Deploy.Driver))) return false;
            if (!live.Next("deploy.keepReleases", Int(s.Deploy.KeepReleases, buffer))) return false;
            if (!live.Next("deploy.path", s.Deploy.Path)) return false;
            if (s.Deploy.RestartCommand is not null && !live.Next("deploy.restartCommand", s.Deploy.RestartCommand)) return false;
            if (s.Deploy.StopCommand is not null && !live.Next("deploy.stopCommand", s.Deploy.StopCommand)) return false;
            for (var i = 0; i < checks.Length; i++)
                if (!TryDescribe(checks[i], buffer, out var n) || !live.Next(CheckPaths[i], buffer[..n])) return false;
            if (!live.Next("health.consecutivePasses", Int(s.Health.ConsecutivePasses, buffer))) return false;
            if (!live.Next("health.deadline", buffer[..FormatDuration(s.Health.Deadline, buffer)])) return false;
            if (!live.Next("health.interval", buffer[..FormatDuration(s.Health.Interval, buffer)])) return false;
            if (!live.Next("health.minHealthy", buffer[..FormatDuration(s.Health.MinHealthy, buffer)])) return false;
            if (!live.Next("hostGroup", s.HostGroup)) return false;
            if (s.OnFailure is { } onFailure && !live.Next("onFailure", OnFailureNames.TryGetValue(onFailure, out var name) ? name : onFailure.ToString().ToLowerInvariant()))
                return false;
            if (s.Strategy.Kind == StrategyKind.Canary && !live.Next("strategy.canary", Int(s.Strategy.CanaryHosts, buffer))) return false;
            if (!live.Next("strategy.maxParallel", s.Strategy.MaxParallel.ToString())) return false;
            if (!live.Next("strategy.type", StrategyName(s.Strategy.Kind))) return false;
            return live.Next("version", s.Version);
        }
        finally
        {
            live.Dispose();
        }
    }

    private static ReadOnlySpan<char> Int(int value, Span<char> buffer)
    {
        value.TryFormat(buffer, out var n, default, CultureInfo.InvariantCulture);
        return buffer[..n];
    }

    /// <summary>Steps through a live snapshot, comparing each entry with the path and value expected next.</summary>
    private struct FieldWalk(ImmutableSortedDictionary<string, string> fields) : IDisposable
    {
        private ImmutableSortedDictionary<string, string>.Enumerator _entries = fields.GetEnumerator();

        public bool Next(string path, ReadOnlySpan<char> value) =>
            _entries.MoveNext() && _entries.Current.Key == path && _entries.Current.Value is { } shown && value.SequenceEqual(shown);

        public bool NextConfig(string key, ConfigValue value)
        {
            if (!_entries.MoveNext()) return false;
            var (path, shown) = _entries.Current;
            if (shown is null || path.Length != "config.".Length + key.Length || !path.StartsWith("config.", StringComparison.Ordinal)
                || !path.AsSpan("config.".Length).SequenceEqual(key))
                return false;
            return value switch // as Display
            {
                ConfigValue.Literal l => shown == l.Value,
                ConfigValue.Secret secret => shown.Length == SecretPrefix.Length + secret.Reference.Length + 1
                    && shown.StartsWith(SecretPrefix, StringComparison.Ordinal)
                    && shown.AsSpan(SecretPrefix.Length, secret.Reference.Length).SequenceEqual(secret.Reference) && shown[^1] == ')',
                _ => false,
            };
        }

        /// <summary>The next value is the names joined with ",", as <see cref="FlattenSorted"/> writes dependsOn.</summary>
        public bool NextJoined(string path, ImmutableArray<string> names)
        {
            if (!_entries.MoveNext() || _entries.Current.Key != path || _entries.Current.Value is null) return false;
            var rest = _entries.Current.Value.AsSpan();
            for (var i = 0; i < names.Length; i++)
            {
                if (i > 0)
                {
                    if (rest.IsEmpty || rest[0] != ',') return false;
                    rest = rest[1..];
                }
                if (!rest.StartsWith(names[i], StringComparison.Ordinal)) return false;
                rest = rest[names[i].Length..];
            }
            return rest.IsEmpty;
        }

        public void Dispose() => _entries.Dispose();
    }

    private static string Inv(long v) => v.ToString(CultureInfo.InvariantCulture);
}
