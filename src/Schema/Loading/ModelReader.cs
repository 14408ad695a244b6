using System.Collections.Immutable;
using System.Globalization;
using Newtonsoft.Json.Linq;
using Reconciler.Schema.Model;

namespace Reconciler.Schema.Loading;

/// <summary>
/// Builds the typed model from schema-valid JSON. The schema has already checked types and patterns, so this only
/// fills in defaults (built-in, then reconciler.yaml's) and resolves per-environment overrides against the base.
/// </summary>
internal static class ModelReader
{
    /// <summary>Used where reconciler.yaml says nothing (documented in docs/format.md).</summary>
    public static readonly Defaults BuiltInDefaults = new(
        KeepReleases: 5,
        OnFailure: OnFailure.Rollback,
        Strategy: new StrategySpec(StrategyKind.Rolling, new MaxParallel(1, false), CanaryHosts: 1),
        Health: new HealthSpec([], TimeSpan.FromSeconds(1), ConsecutivePasses: 1, MinHealthy: TimeSpan.Zero, Deadline: TimeSpan.FromSeconds(60)));

    public static readonly TimeSpan DefaultCheckTimeout = TimeSpan.FromSeconds(5);
    public const int DefaultSshPort = 22;
    public const string DefaultUser = "deploy";

    public static SourceLocation Root(string file, ParsedFile parsed)
    {
        var (line, column) = parsed.ValueAt("");
        return new SourceLocation(file, line, column);
    }

    public static RepositorySpec ReadRepository(string file, ParsedFile parsed)
    {
        var root = (JObject)parsed.Root!;
        var d = BuiltInDefaults;
        var defaults = Obj(root, "defaults");
        if (defaults is not null)
        {
            var health = Obj(defaults, "health");
            d = new Defaults(
                Int(defaults, "keepReleases") ?? d.KeepReleases,
                OnFailureOf(Str(defaults, "onFailure")) ?? d.OnFailure,
                ReadStrategy(Obj(defaults, "strategy"), d.Strategy),
                health is null ? d.Health : ReadHealth(health, d.Health));
        }
        var hooks = ImmutableArray.CreateBuilder<NotificationHook>();
        foreach (var item in Arr(root, "notifications") ?? [])
        {
            var hook = (JObject)item;
            var events = Arr(hook, "events") is { } list
                ? list.Select(e => Enum.Parse<NotificationEvent>((string)e!, ignoreCase: true)).Order().ToImmutableArray()
                : [NotificationEvent.Start, NotificationEvent.Success, NotificationEvent.Failure, NotificationEvent.Rollback];
            hooks.Add(new NotificationHook(Str(hook, "url")!, events));
        }
        return new RepositorySpec(Str(root, "state"), d, hooks.ToImmutable(), Root(file, parsed),
            Obj(root, "toggles") is { } toggles ? Duration(Str(toggles, "removableAfter")) : null)
        {
            SelfHeal = Bool(root, "selfHeal") ?? false,
        };
    }

    private static CatalogSource? ReadCatalog(JObject? consul) => consul is null ? null
        : new CatalogSource(Str(consul, "service")!, Str(consul, "tag"), Str(consul, "datacenter"),
            consul["passingOnly"]?.Value<bool>() ?? false, Str(consul, "knownHosts"));

    public static EnvironmentSpec ReadEnvironment(string file, ParsedFile parsed)
    {
        var root = (JObject)parsed.Root!;
        var groups = ImmutableSortedDictionary.CreateBuilder<string, HostGroup>(StringComparer.Ordinal);
        foreach (var (groupName, groupToken) in Obj(root, "hostGroups") ?? [])
        {
            var hosts = ImmutableArray.CreateBuilder<HostSpec>();
            foreach (var item in Arr((JObject)groupToken!, "hosts") ?? [])
            {
                var host = (JObject)item;
                var vars = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
                var varsPointer = $"/hostGroups/{groupName}/hosts/{hosts.Count}/vars";
                foreach (var (name, value) in Obj(host, "vars") ?? [])
                    vars[name] = ScalarText(value!, parsed, ParsedFile.Child(varsPointer, name));
                hosts.Add(new HostSpec(
                    Str(host, "name")!,
                    Str(host, "address")!,
                    Int(host, "port") ?? DefaultSshPort,
                    Str(host, "user") ?? DefaultUser,
                    Str(host, "hostKey"),
                    Str(host, "region"),
                    vars.ToImmutable()));
            }
            var (line, column) = parsed.KeyAt("/hostGroups/" + groupName);
            groups[groupName] = new HostGroup(groupName, hosts.ToImmutable())
            {
                Catalog = ReadCatalog(Obj((JObject)groupToken!, "consul")),
                Location = new SourceLocation(file, line, column),
            };
        }
        var windows = ImmutableArray.CreateBuilder<FreezeWindow>();
        foreach (var item in Arr(root, "freezeWindows") ?? [])
        {
            var w = (JObject)item;
            windows.Add(new FreezeWindow(Timestamp(Str(w, "start")!), Timestamp(Str(w, "end")!), Str(w, "reason")!));
        }
        return new EnvironmentSpec(
            Str(root, "name")!,
            (Arr(root, "regions") ?? []).Select(r => (string)r!).ToImmutableArray(),
            groups.ToImmutable(),
            windows.ToImmutable(),
            OnFailureOf(Str(root, "onFailure")),
            Root(file, parsed));
    }

    public static ServiceDefinition ReadService(string file, ParsedFile parsed, Defaults defaults)
    {
        var root = (JObject)parsed.Root!;
        var name = Str(root, "name")!;
        var deploy = ReadDeploy(Obj(root, "deploy"), new DeploySpec(DriverKind.Ssh, "", null, null, defaults.KeepReleases));
        var health = ReadHealth(Obj(root, "health"), defaults.Health);
        var artifact = Obj(root, "artifact")!;
        var spec = new ServiceSpec(
            name,
            Bool(root, "enabled") ?? true,
            Str(root, "version")!,
            new ArtifactSpec(Str(artifact, "url")!, Str(artifact, "sha256")!),
            (Arr(root, "dependsOn") ?? []).Select(d => (string)d!).Order(StringComparer.Ordinal).ToImmutableArray(),
            Str(root, "hostGroup")!,
            deploy,
            ReadStrategy(Obj(root, "strategy"), defaults.Strategy),
            health,
            ReadConfig(Obj(root, "config"), parsed, "/config"),
            OnFailureOf(Str(root, "onFailure")),
            Root(file, parsed));

        var overrides = ImmutableSortedDictionary.CreateBuilder<string, ServiceOverride>(StringComparer.Ordinal);
        foreach (var (environment, token) in Obj(root, "environments") ?? [])
        {
            var o = (JObject)token!;
            var oArtifact = Obj(o, "artifact");
            overrides[environment] = new ServiceOverride(
                Bool(o, "enabled"),
                Str(o, "version"),
                oArtifact is null ? null : new ArtifactSpec(Str(oArtifact, "url")!, Str(oArtifact, "sha256")!),
                Str(o, "hostGroup"),
                Obj(o, "deploy") is { } d ? ReadDeploy(d, spec.Deploy) : null,
                Obj(o, "strategy") is { } s ? ReadStrategy(s, spec.Strategy) : null,
                Obj(o, "health") is { } h ? ReadHealth(h, spec.Health) : null,
                ReadConfig(Obj(o, "config"), parsed, $"/environments/{environment}/config"),
                OnFailureOf(Str(o, "onFailure")));
        }
        return new ServiceDefinition(name, spec, overrides.ToImmutable(), spec.Location);
    }

    public static ToggleDefinition ReadToggle(string file, ParsedFile parsed)
    {
        var root = (JObject)parsed.Root!;
        var environments = ImmutableSortedDictionary.CreateBuilder<string, bool>(StringComparer.Ordinal);
        foreach (var (env, value) in Obj(root, "environments") ?? []) environments[env] = value!.Value<bool>();
        var requires = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var (service, range) in Obj(root, "requires") ?? []) requires[service] = range!.Value<string>()!;
        return new ToggleDefinition(Str(root, "name")!, Str(root, "description"), environments.ToImmutable(), requires.ToImmutable(), Root(file, parsed));
    }

    private static DeploySpec ReadDeploy(JObject? o, DeploySpec fallback) => o is null ? fallback : new DeploySpec(
        Str(o, "driver") switch
        {
            "local" => DriverKind.Local,
            "consul-kv" => DriverKind.ConsulKv,
            "ssh" => DriverKind.Ssh,
            _ => fallback.Driver,
        },
        Str(o, "path") ?? fallback.Path,
        Str(o, "restartCommand") ?? fallback.RestartCommand,
        Str(o, "stopCommand") ?? fallback.StopCommand,
        Int(o, "keepReleases") ?? fallback.KeepReleases,
        ReadHooks(Obj(o, "hooks"), fallback.Hooks));

    /// <summary>An override's hooks merge field by field with the base's, like the rest of deploy.</summary>
    private static LifecycleHooks? ReadHooks(JObject? o, LifecycleHooks? fallback) => o is null ? fallback : new LifecycleHooks(
        Str(o, "beforeSwitch") ?? fallback?.BeforeSwitch,
        Str(o, "afterSwitch") ?? fallback?.AfterSwitch,
        Str(o, "afterGate") ?? fallback?.AfterGate,
        Duration(Str(o, "timeout")) ?? fallback?.Timeout ?? LifecycleHooks.DefaultTimeout);

    private static StrategySpec ReadStrategy(JObject? o, StrategySpec fallback)
    {
        if (o is null) return fallback;
        var kind = Str(o, "type") switch
        {
            "rolling" => StrategyKind.Rolling,
            "canary" => StrategyKind.Canary,
            "blue-green" => StrategyKind.BlueGreen,
            _ => fallback.Kind,
        };
        var maxParallel = fallback.MaxParallel;
        if (o.TryGetValue("maxParallel", out var mp))
            maxParallel = mp.Type == JTokenType.Integer
                ? new MaxParallel(Int(o, "maxParallel")!.Value, false)
                : new MaxParallel(Grammars.Percentage(mp.Value<string>()!), true);
        return new StrategySpec(kind, maxParallel, Int(o, "canary") ?? fallback.CanaryHosts);
    }

    private static HealthSpec ReadHealth(JObject? o, HealthSpec fallback)
    {
        if (o is null) return fallback;
        var checks = fallback.Checks;
        if (Arr(o, "checks") is { } list)
            checks = list.Select(c => ReadCheck((JObject)c)).ToImmutableArray();
        return new HealthSpec(
            checks,
            Duration(Str(o, "interval")) ?? fallback.Interval,
            Int(o, "consecutivePasses") ?? fallback.ConsecutivePasses,
            Duration(Str(o, "minHealthy")) ?? fallback.MinHealthy,
            Duration(Str(o, "deadline")) ?? fallback.Deadline,
            Int(o, "failureThreshold") ?? fallback.FailureThreshold,
            Duration(Str(o, "initialDelay")) ?? fallback.InitialDelay);
    }

    private static HealthCheckSpec ReadCheck(JObject check)
    {
        var (kind, body) = check.Properties().First() switch
        {
            { Name: "http" } p => (HealthCheckKind.Http, (JObject)p.Value),
            { Name: "tcp" } p => (HealthCheckKind.Tcp, (JObject)p.Value),
            { Name: "command" } p => (HealthCheckKind.Command, (JObject)p.Value),
            var p => (HealthCheckKind.Consul, (JObject)p.Value),
        };
        var timeout = Duration(Str(body, "timeout")) ?? DefaultCheckTimeout;
        return kind switch
        {
            HealthCheckKind.Http => new HealthCheckSpec(kind, Str(body, "url"), Int(body, "expectStatus") ?? 200, null, null, null, null, timeout),
            HealthCheckKind.Tcp => new HealthCheckSpec(kind, null, null, Str(body, "address") ?? "${host.address}", Int(body, "port"), null, null, timeout),
            HealthCheckKind.Command => new HealthCheckSpec(kind, null, null, null, null, Str(body, "run"), null, timeout),
            _ => new HealthCheckSpec(kind, null, null, null, null, null, Str(body, "service"), timeout),
        };
    }

    private static ImmutableSortedDictionary<string, ConfigValue> ReadConfig(JObject? o, ParsedFile parsed, string pointer)
    {
        if (o is null) return ImmutableSortedDictionary<string, ConfigValue>.Empty.WithComparers(StringComparer.Ordinal);
        var config = ImmutableSortedDictionary.CreateBuilder<string, ConfigValue>(StringComparer.Ordinal);
        foreach (var (key, value) in o)
            config[key] = value is JObject secret
                ? new ConfigValue.Secret(Str(secret, "secret")!)
                : new ConfigValue.Literal(ScalarText(value!, parsed, ParsedFile.Child(pointer, key)));
        return config.ToImmutable();
    }

    /// <summary>A scalar as the user wrote it: "1.10" stays "1.10", "true" stays "true".</summary>
    private static string ScalarText(JToken value, ParsedFile parsed, string pointer)
    {
        if (value.Type == JTokenType.String) return value.Value<string>()!;
        if (parsed.Nodes.TryGetValue(pointer, out var info) && info.Raw is not null) return info.Raw;
        return value.Type == JTokenType.Boolean ? (value.Value<bool>() ? "true" : "false") : value.ToString(Newtonsoft.Json.Formatting.None);
    }

    /// <summary>Strict: an unknown unit is an error, never hours (Grammars).</summary>
    public static TimeSpan? Duration(string? text) => text is null ? null : Grammars.Duration(text);

    public static string FormatDuration(TimeSpan t) =>
        t.TotalMilliseconds % 1000 != 0 ? $"{(long)t.TotalMilliseconds}ms"
        : t.TotalSeconds % 60 != 0 || t == TimeSpan.Zero ? $"{(long)t.TotalSeconds}s"
        : t.TotalMinutes % 60 != 0 ? $"{(long)t.TotalMinutes}m"
        : $"{(long)t.TotalHours}h";

    private static DateTimeOffset Timestamp(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    private static OnFailure? OnFailureOf(string? text) => text switch
    {
        "rollback" => OnFailure.Rollback,
        "halt" => OnFailure.Halt,
        _ => null,
    };

    internal static JObject? Obj(JObject o, string name) => o.TryGetValue(name, out var t) ? t as JObject : null;
    internal static JArray? Arr(JObject o, string name) => o.TryGetValue(name, out var t) ? t as JArray : null;
    internal static string? Str(JObject o, string name) => o.TryGetValue(name, out var t) && t.Type == JTokenType.String ? t.Value<string>() : null;
    internal static int? Int(JObject o, string name) => o.TryGetValue(name, out var t) && t is JValue { Type: JTokenType.Integer } v
        ? v.Value switch
        {
            long l => (int)Math.Clamp(l, int.MinValue, int.MaxValue),
            System.Numerics.BigInteger b => b.Sign < 0 ? int.MinValue : int.MaxValue,   // beyond 64 bits; the schema's range refuses it
            _ => throw new FormatException($"'{name}' holds an integer of an unexpected form"),
        }
        : null;
    internal static bool? Bool(JObject o, string name) => o.TryGetValue(name, out var t) && t.Type == JTokenType.Boolean ? t.Value<bool>() : null;
}
