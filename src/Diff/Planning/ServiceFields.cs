using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Reconciler.Diff.Live;
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
    /// against the live snapshot for every changed service; an array filled in path order costs a fraction of a sorted
    /// tree (docs/benchmarks/planner.md).</summary>
    internal static KeyValuePair<string, string>[] FlattenSorted(ServiceSpec s)
    {
        var sink = new ArraySink(new KeyValuePair<string, string>[20 + s.Health.Checks.Length + s.Config.Count]);   // 20: every fixed path
        Walk(s, ref sink);
        var (f, n) = (sink.Pairs, sink.Count);
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

    /// <summary>Every field of <paramref name="s"/> into <paramref name="sink"/>, written in ordinal path order except in
    /// the two cases <see cref="InPathOrder"/> excludes. The one definition of the snapshot's paths and values.</summary>
    private static void Walk<TSink>(ServiceSpec s, ref TSink sink) where TSink : struct, IFieldSink
    {
        Span<char> buffer = stackalloc char[256];
        sink.Add("artifact.sha256", s.Artifact.Sha256);
        sink.Add("artifact.url", s.Artifact.Url);
        foreach (var (key, value) in s.Config) sink.AddConfig(key, value);
        sink.AddJoined("dependsOn", s.DependsOn);
        sink.Add("deploy.driver", DriverName(s.Deploy.Driver));
        sink.Add("deploy.keepReleases", Int(s.Deploy.KeepReleases, buffer));
        sink.Add("deploy.path", s.Deploy.Path);
        if (s.Deploy.RestartCommand is not null) sink.Add("deploy.restartCommand", s.Deploy.RestartCommand);
        if (s.Deploy.StopCommand is not null) sink.Add("deploy.stopCommand", s.Deploy.StopCommand);
        for (var i = 0; i < s.Health.Checks.Length; i++)
        {
            var path = i < CheckPaths.Length ? CheckPaths[i] : $"health.checks[{i}]";
            if (TryDescribe(s.Health.Checks[i], buffer, out var n)) sink.Add(path, buffer[..n]);
            else sink.Add(path, Describe(s.Health.Checks[i]));
        }
        sink.Add("health.consecutivePasses", Int(s.Health.ConsecutivePasses, buffer));
        sink.Add("health.deadline", buffer[..FormatDuration(s.Health.Deadline, buffer)]);
        // Opt-in fields appear only when set, so a spec without them keeps its fields (and its plans) unchanged.
        if (s.Health.FailureThreshold is { } threshold) sink.Add("health.failureThreshold", Int(threshold, buffer));
        if (s.Health.InitialDelay > TimeSpan.Zero) sink.Add("health.initialDelay", buffer[..FormatDuration(s.Health.InitialDelay, buffer)]);
        sink.Add("health.interval", buffer[..FormatDuration(s.Health.Interval, buffer)]);
        sink.Add("health.minHealthy", buffer[..FormatDuration(s.Health.MinHealthy, buffer)]);
        sink.Add("hostGroup", s.HostGroup);
        if (s.OnFailure is { } onFailure) sink.Add("onFailure", OnFailureNames.TryGetValue(onFailure, out var name) ? name : onFailure.ToString().ToLowerInvariant());
        if (s.Strategy.Kind == StrategyKind.Canary) sink.Add("strategy.canary", Int(s.Strategy.CanaryHosts, buffer));
        sink.Add("strategy.maxParallel", s.Strategy.MaxParallel.ToString());
        sink.Add("strategy.type", StrategyName(s.Strategy.Kind));
        sink.Add("version", s.Version);
    }

    /// <summary>True when <see cref="Walk"/> writes <paramref name="s"/>'s fields in ordinal path order: fewer than ten
    /// checks and config keys on the ordinal comparer.</summary>
    private static bool InPathOrder(ServiceSpec s) =>
        s.Health.Checks.Length <= CheckPaths.Length && ReferenceEquals(s.Config.KeyComparer, StringComparer.Ordinal);

    /// <summary>Where <see cref="Walk"/> writes.</summary>
    private interface IFieldSink
    {
        void Add(string path, string value);
        void Add(string path, ReadOnlySpan<char> value);
        void AddConfig(string key, ConfigValue value);
        void AddJoined(string path, ImmutableArray<string> names);   // the names joined with ","
    }

    private struct ArraySink(KeyValuePair<string, string>[] pairs) : IFieldSink
    {
        public readonly KeyValuePair<string, string>[] Pairs = pairs;
        public int Count;

        public void Add(string path, string value) => Pairs[Count++] = new(path, value);
        public void Add(string path, ReadOnlySpan<char> value) => Pairs[Count++] = new(path, new string(value));
        public void AddConfig(string key, ConfigValue value) => Pairs[Count++] = new("config." + key, Display(value));
        public void AddJoined(string path, ImmutableArray<string> names) => Pairs[Count++] = new(path, names.Length == 0 ? "" : string.Join(",", names));
    }

    private readonly struct PackingSink(PackedFields.Writer writer) : IFieldSink
    {
        public void Add(string path, string value) => writer.Add(path, value);
        public void Add(string path, ReadOnlySpan<char> value) => writer.Add(path, value);

        public void AddConfig(string key, ConfigValue value)
        {
            writer.Append("config.");
            writer.Append(key);
            writer.EndString();
            switch (value) // as Display
            {
                case ConfigValue.Literal l: writer.Append(l.Value); break;
                case ConfigValue.Secret secret:
                    writer.Append(SecretPrefix);
                    writer.Append(secret.Reference);
                    writer.Append(")");
                    break;
                default: throw new ArgumentOutOfRangeException(nameof(value));
            }
            writer.EndString();
        }

        public void AddJoined(string path, ImmutableArray<string> names)
        {
            writer.Append(path);
            writer.EndString();
            for (var i = 0; i < names.Length; i++)
            {
                if (i > 0) writer.Append(",");
                writer.Append(names[i]);
            }
            writer.EndString();
        }
    }

    /// <summary>The snapshot of <paramref name="s"/> packed (what <see cref="Flatten"/> gives, as <see cref="PackedFields"/>).</summary>
    public static PackedFields Pack(ServiceSpec s) =>
        PackInPathOrder(s) is { } writer ? writer.ToPacked() : PackedFields.Pack(FlattenSorted(s));

    /// <summary>
    /// True when <see cref="FlattenSorted"/> of <paramref name="s"/> is exactly the live snapshot (same paths, same values,
    /// same order), decided by packing the spec into a reused buffer and comparing it with the live packing byte for byte:
    /// for a service read from a store, neither side builds a string or a dictionary. False when anything differs, and
    /// also for specs not written in path order (<see cref="InPathOrder"/>); the caller then diffs in full, which gives
    /// the same answer.
    /// </summary>
    internal static bool FieldsEqual(ServiceSpec s, LiveService live) =>
        PackInPathOrder(s) is { } writer && live.GetPackedFields().SameAs(writer.Written, writer.IsExact);

    [ThreadStatic] private static PackedFields.Writer? t_writer;

    /// <summary>The snapshot of <paramref name="s"/> packed into this thread's reused writer (after a ("name", name) pair
    /// when <paramref name="withName"/>); null when <see cref="Walk"/> would not write it in path order. The writer is
    /// valid until the next call on this thread.</summary>
    internal static PackedFields.Writer? PackInPathOrder(ServiceSpec s, bool withName = false)
    {
        if (!InPathOrder(s)) return null;
        var writer = t_writer ??= new PackedFields.Writer();
        writer.Reset();
        if (withName) writer.Add("name", s.Name);
        var sink = new PackingSink(writer);
        Walk(s, ref sink);
        return writer;
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

    private static ReadOnlySpan<char> Int(int value, Span<char> buffer)
    {
        value.TryFormat(buffer, out var n, default, CultureInfo.InvariantCulture);
        return buffer[..n];
    }
}
