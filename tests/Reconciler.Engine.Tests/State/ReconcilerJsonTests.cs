using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Reconciler.Diff.Live;
using Reconciler.Engine.Tests.Git;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>The product's JSON dialect resolves what applies and plans write from compile-time metadata
/// (<see cref="ReconcilerJsonContext"/>): the same bytes as reflection metadata, read back to equal values.</summary>
public sealed class ReconcilerJsonTests : IDisposable
{
    private readonly GitFixture _git = new();

    public ReconcilerJsonTests() => _git.CommitExampleRepo();

    public void Dispose() => _git.Dispose();

    private static readonly JsonSerializerOptions ByReflection = new(ReconcilerJson.Compact) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
    private static readonly JsonSerializerOptions IndentedByReflection = new(ReconcilerJson.Options) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };

    [Theory]
    [InlineData(typeof(Diff.Planning.Plan))]
    [InlineData(typeof(LiveState))]
    [InlineData(typeof(LiveService))]
    [InlineData(typeof(JournalEntry))]
    [InlineData(typeof(HistoryEntry))]
    [InlineData(typeof(ApplyHeader))]
    [InlineData(typeof(RollbackDecision))]
    [InlineData(typeof(Reconciler.Daemon.StatusReport))]
    public void Resolves_the_types_every_apply_writes_without_reflection(Type type)
    {
        Assert.IsType<ReconcilerJsonContext>(ReconcilerJson.Compact.GetTypeInfo(type).OriginatingResolver);
        Assert.IsType<ReconcilerJsonContext>(ReconcilerJson.Options.GetTypeInfo(type).OriginatingResolver);
    }

    [Fact]
    public void Writes_the_bytes_reflection_writes_for_every_environment_of_the_example_repo()
    {
        using var infra = Reconciler.Git.InfraRepo.Open(_git.Root, "HEAD");
        var model = Reconciler.Schema.Loading.RepoLoader.Load(infra.Source).Model!;
        var at = new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
        foreach (var environment in model.Environments.Keys)
        {
            var desired = DesiredStateBuilder.Build(model, environment);
            var applied = LiveProjection.AsApplied(desired);
            var fromEmpty = ExecutorWiring.Plan(desired, LiveState.Empty(environment));
            var header = ApplyHeader.Create(desired, fromEmpty, LiveState.Empty(environment));
            SameBothWays(fromEmpty);
            SameBothWays(ExecutorWiring.Plan(desired, applied));
            SameBothWays(applied);
            SameBothWays(header);
            foreach (var service in applied.Services.Values) SameBothWays(service);
            foreach (var toggle in applied.Toggles.Values) SameBothWays(toggle);
            SameBothWays(StatusWithHostsAnswers(desired, applied, at));
        }
        SameBothWays(new JournalEntry("production", "apply-1", "abc", "w1/api/host/web-1/activate", JournalStatus.Failed, at, "{\"batch\":1}"));
        SameBothWays(new HistoryEntry("apply-1", "production", "abc", "Ada <ada@example.com>", "ci", at, at.AddSeconds(3), ApplyResult.EnvironmentFault,
            ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("api", "rolled back")]), "host web-1: <unreachable> & \"quoted\""));
        SameBothWays(new QuarantinedCommit("abc", "gate failed", at));
        SameBothWays(new FreezeInfo("release freeze", "ops", at));
        SameBothWays(new RollbackDecision("gate failed on web-1", Quarantine: false, FailureKind.EnvironmentFault));
        SameBothWays(new SwitchDetail(2));
    }

    /// <summary>`status --format json` as a lead on call reads it: recorded state, a held lock, a freeze, a quarantined
    /// commit, and one host of each answer the live probe gives.</summary>
    private static Reconciler.Daemon.StatusReport StatusWithHostsAnswers(DesiredState desired, LiveState applied, DateTimeOffset at)
    {
        var history = new HistoryEntry("apply-1", desired.Environment, "abc", "Ada", "ci", at, at.AddSeconds(3), ApplyResult.Succeeded,
            ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, applied.Services.Keys.Select(s => KeyValuePair.Create(s, "healthy"))), null);
        var report = Reconciler.Daemon.StatusReports.Build(desired, applied, [history], [new QuarantinedCommit("def", "gate failed", at)],
            new LockInfo(desired.Environment, "ci@runner", "apply", at, at.AddMinutes(2)), new FreezeInfo("release freeze", "ops", at));
        var host = desired.EnvironmentSpec.HostGroups.Values.SelectMany(g => g.Hosts).FirstOrDefault()?.Name ?? "web-1";
        ObservedHost Answer(string service, HostHealth health, ImmutableArray<DriftKind> drift, string? detail) =>
            new(service, host, "r1", "r1", drift.IsEmpty ? "r1" : null, health, drift, detail);
        var service = applied.Services.Keys.FirstOrDefault() ?? "api";
        return report with
        {
            Live = new ObservedState(desired.Environment, at, TimeSpan.FromMilliseconds(1234), [
                Answer(service, HostHealth.Healthy, [], null),
                Answer(service, HostHealth.Unhealthy, [DriftKind.Unhealthy], "check 'curl' exited 7: <refused> & \"quoted\""),
                Answer(service, HostHealth.Unreachable, [DriftKind.Unreachable], "no answer within 5s"),
            ]),
        };
    }

    private static void SameBothWays<T>(T value)
    {
        var generated = JsonSerializer.Serialize(value, ReconcilerJson.Compact);
        Assert.Equal(JsonSerializer.Serialize(value, ByReflection), generated);
        Assert.Equal(JsonSerializer.Serialize(value, IndentedByReflection), JsonSerializer.Serialize(value, ReconcilerJson.Options));
        var read = JsonSerializer.Deserialize<T>(generated, ReconcilerJson.Compact);
        Assert.Equal(generated, JsonSerializer.Serialize(read, ByReflection));
    }
}
