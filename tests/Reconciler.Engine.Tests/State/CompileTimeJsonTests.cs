using System.Collections.Immutable;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Reconciler.Consul;
using Reconciler.Daemon;
using Reconciler.Drivers.ConsulKv;
using Reconciler.Execution;
using Reconciler.State;
using Reconciler.State.Consul;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>The shipped build is Native AOT, where reflection metadata is off: every type the product's JSON reaches
/// resolves from a source-generated context (enums through their listed kebab-case converters, the stores' sorted
/// dictionaries through their listed ordinal readers), and writes the bytes reflection metadata wrote.</summary>
public sealed class CompileTimeJsonTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    public static TheoryData<Type> DialectRoots() => [.. Roots(typeof(ReconcilerJsonContext))];

    [Theory]
    [MemberData(nameof(DialectRoots))]
    public void Every_type_the_dialect_reaches_resolves_from_compile_time_metadata_and_writes_enums_as_strings(Type root)
    {
        foreach (var type in Reachable(ReconcilerJson.Options, root))
        {
            Assert.IsType<ReconcilerJsonContext>(ReconcilerJson.Options.GetTypeInfo(type).OriginatingResolver);
            if (type.IsEnum)
                Assert.StartsWith("\"", JsonSerializer.Serialize(Enum.GetValues(type).GetValue(0), ReconcilerJson.Options.GetTypeInfo(type)), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(typeof(JournalEntry))]
    [InlineData(typeof(HistoryEntry))]
    [InlineData(typeof(QuarantinedCommit))]
    [InlineData(typeof(FreezeInfo))]
    [InlineData(typeof(Diff.Live.LiveToggle))]
    [InlineData(typeof(Diff.Live.LiveService))]
    [InlineData(typeof(ConsulStateStore.VersionValue))]
    [InlineData(typeof(ConsulStateStore.LockValue))]
    [InlineData(typeof(ConsulStateStore.LeaderValue))]
    public void The_stores_reading_options_resolve_every_type_the_stores_read(Type read)
    {
        foreach (var type in Reachable(StateJsonContext.Reading, read))
            Assert.NotNull(StateJsonContext.Reading.GetTypeInfo(type));
    }

    [Fact]
    public void An_enum_without_a_listed_converter_fails_instead_of_being_written_as_a_number()
    {
        var e = Assert.Throws<NotSupportedException>(() => new KebabCaseEnums().CreateConverter(typeof(DayOfWeek), ReconcilerJson.Options));
        Assert.Contains("KebabCaseEnums", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_values_added_for_Native_AOT_write_the_bytes_reflection_writes()
    {
        SameBothWays(new ConsulStateStore.VersionValue("abc", 3));
        SameBothWays(new ConsulStateStore.VersionValue(null));
        SameBothWays(new ConsulStateStore.LockValue("ci@runner", "deploy <x> & \"y\"", At, At.AddMinutes(2), "session-1"));
        SameBothWays(new ConsulStateStore.LeaderValue("daemon-1", At));
        SameBothWays(new LockInfo("production", "ci@runner", "deploy", At, At.AddMinutes(2)));
        SameBothWays(new Reconciler.UseCases.UnlockResult("production", true, "ci@runner"));
        SameBothWays<IReadOnlyList<HistoryEntry>>([new HistoryEntry("apply-1", "production", "abc", "Ada", "ci", At, At.AddSeconds(3), ApplyResult.Succeeded,
            ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("api", "healthy")]), null)]);
        SameBothWays(new DaemonStatus([new EnvironmentStatus("production", "abc", At, "fetch <failed>", new LastResult("abc", "failed", FailureKind.CommitFault, "m", At, At),
            null, [], null, null, new RetryStatus("abc", 2, At, "gate"), null, new LeaderStatus("daemon-1", At, true, "daemon-1", null))]));
    }

    [Fact]
    public void Consul_wire_bodies_and_staged_releases_are_the_bytes_reflection_wrote_with_default_options()
    {
        var reflection = new JsonSerializerOptions { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
        List<TxnOpWire> ops =
        [
            new() { KV = new TxnKvWire { Verb = "cas", Key = "reconciler/<env>/a&b/é", Value = "AAE=", Index = 7 } },
            new() { KV = new TxnKvWire { Verb = "get", Key = "k", Namespace = "ns", Partition = "p" } },
        ];
        Same(ops, ConsulJsonContext.Default.ListTxnOpWire, reflection);
        Same(new SessionCreateWire { Name = "reconciler lock", TTL = "15s", NodeChecks = ["serfHealth"] }, ConsulJsonContext.Default.SessionCreateWire, reflection);
        Same(new ConsulKvDriver.StagedConfig("api", "1.0.0-abc", new SortedDictionary<string, string>(StringComparer.Ordinal) { ["B"] = "<x>", ["a"] = "é\"" }),
            ConsulJsonContext.Default.StagedConfig, reflection);
        const string kv = """[{"Key":"a/b","Value":"AAE=","CreateIndex":1,"ModifyIndex":2,"LockIndex":0,"Flags":0,"Session":"s"}]""";
        Same(JsonSerializer.Deserialize(kv, ConsulJsonContext.Default.ListKvWire)!, ConsulJsonContext.Default.ListKvWire, reflection);
        Assert.Equal(kv, JsonSerializer.Serialize(JsonSerializer.Deserialize<List<KvWire>>(kv, reflection), reflection));
    }

    private static void Same<T>(T value, JsonTypeInfo<T> generated, JsonSerializerOptions reflection) =>
        Assert.Equal(JsonSerializer.Serialize(value, reflection), JsonSerializer.Serialize(value, generated));

    private static void SameBothWays<T>(T value)
    {
        var generated = JsonSerializer.Serialize(value, ReconcilerJson.Compact.InfoFor<T>());
        Assert.Equal(JsonSerializer.Serialize(value, ReflectionJson.Compact), generated);
        Assert.Equal(JsonSerializer.Serialize(value, ReflectionJson.Indented), JsonSerializer.Serialize(value, ReconcilerJson.Options.InfoFor<T>()));
        Assert.Equal(generated, JsonSerializer.Serialize(JsonSerializer.Deserialize(generated, ReconcilerJson.Compact.InfoFor<T>()), ReflectionJson.Compact));
    }

    private static IEnumerable<Type> Roots(Type context) =>
        context.GetCustomAttributesData().Where(a => a.AttributeType == typeof(JsonSerializableAttribute)).Select(a => (Type)a.ConstructorArguments[0].Value!);

    /// <summary>The root and every type its metadata reaches: property, element, key and nullable-underlying types.</summary>
    private static HashSet<Type> Reachable(JsonSerializerOptions options, Type root)
    {
        var seen = new HashSet<Type>();
        var pending = new Stack<Type>([root]);
        while (pending.TryPop(out var type))
        {
            if (!seen.Add(type)) continue;
            if (Nullable.GetUnderlyingType(type) is { } underlying) pending.Push(underlying);
            var info = options.GetTypeInfo(type);
            foreach (var property in info.Properties) pending.Push(property.PropertyType);
            if (info.ElementType is { } element) pending.Push(element);
            if (info.KeyType is { } key) pending.Push(key);
        }
        return seen;
    }
}
