using System.Collections.Immutable;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Reconciler.Consul;
using Reconciler.Drivers;
using Reconciler.Drivers.ConsulKv;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.Engine.Tests.State;
using Xunit;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>Apps read toggles from Consul: they must see a switch when live state records it, and the old value
/// again when the change is rolled back.</summary>
public sealed class TogglePublishingTests
{
    private sealed class RecordingPublisher : ITogglePublisher
    {
        public List<string> Calls { get; } = [];
        public Func<Exception?> FailWith { get; set; } = () => null;

        public Task PublishAsync(string environment, IReadOnlyDictionary<string, bool?> toggles, CancellationToken ct)
        {
            if (FailWith() is { } e) throw e;
            lock (Calls) Calls.Add($"{environment}: " + string.Join(", ", toggles.OrderBy(t => t.Key).Select(t => $"{t.Key}={t.Value?.ToString() ?? "removed"}")));
            return Task.CompletedTask;
        }
    }

    private static readonly DesiredToggle NewCheckout = new("new-checkout", true, ImmutableSortedDictionary<string, string>.Empty);

    private static async Task<(ReconcileOutcome Outcome, ExecutorWorld World)> ApplyAsync(
        RecordingPublisher publisher, Action<ExecutorWorld> arrange, Func<ExecutorWorld, DesiredState> desired)
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        arrange(w);
        var deps = new ExecutorDependencies(w.Store, _ => w.Driver, w.Probe, w.Artifacts, new FakeSecretResolver(), w.Time, publisher);
        var service = new ReconcileService(deps, TestPlanner.Plan);
        var outcome = await w.Drive(Task.Run(() => service.ReconcileAsync(w.Request(desired(w)), null, CancellationToken.None)));
        return (outcome, w);
    }

    [Fact]
    public async Task A_switched_toggle_is_published_once_live_state_records_it()
    {
        var publisher = new RecordingPublisher();
        var (outcome, w) = await ApplyAsync(publisher, _ => { }, w => w.Desired("c1", [DbOld, ApiOld], [NewCheckout]));

        Assert.Equal(ApplyResult.Succeeded, outcome.Result);
        Assert.True((await w.LiveAsync()).Toggles["new-checkout"].Enabled);
        Assert.Equal([$"{Env}: new-checkout=True"], publisher.Calls);
    }

    [Fact]
    public async Task A_switched_toggle_records_which_commit_switched_it_and_when()
    {
        var publisher = new RecordingPublisher();
        DateTimeOffset before = default;
        var (outcome, w) = await ApplyAsync(publisher, w => before = w.Time.GetUtcNow(), w => w.Desired("c1", [DbOld, ApiOld], [NewCheckout]));

        Assert.Equal(ApplyResult.Succeeded, outcome.Result);
        var toggle = (await w.LiveAsync()).Toggles["new-checkout"];
        Assert.Equal("c1", toggle.Commit);
        Assert.InRange(toggle.ChangedAt!.Value, before, w.Time.GetUtcNow());
    }

    [Fact]
    public async Task A_rollback_publishes_the_value_from_before_the_apply()
    {
        var publisher = new RecordingPublisher();
        var bad = Service("api", "1.5.0", dependsOn: ["db"]);
        var (outcome, w) = await ApplyAsync(publisher,
            w => w.Probe.Healthy = (_, release) => release != Reconciler.Diff.Planning.ServiceFields.ReleaseId(bad),
            w => w.Desired("c1", [DbOld, bad], [NewCheckout]));

        Assert.True(outcome.Result == ApplyResult.RolledBack, outcome.Message);
        Assert.Empty((await w.LiveAsync()).Toggles);
        // Switched on after its wave only if the wave passed; whatever was published, the last word is "removed".
        Assert.Equal($"{Env}: new-checkout=removed", publisher.Calls[^1]);
    }

    [Fact]
    public async Task A_failed_publish_rolls_the_change_back_as_a_fault_of_the_environment()
    {
        var publisher = new RecordingPublisher();
        var calls = 0;
        publisher.FailWith = () => Interlocked.Increment(ref calls) == 1 ? new HostStepException("consul", "publish toggles", "connection refused") : null;
        var (outcome, w) = await ApplyAsync(publisher, _ => { }, w => w.Desired("c1", [DbOld, ApiOld], [NewCheckout]));

        Assert.True(outcome.Result == ApplyResult.EnvironmentFault, outcome.Message);
        Assert.Equal(FailureKind.EnvironmentFault, outcome.Failure);
        Assert.Contains("toggle new-checkout", outcome.Message);
        Assert.Empty((await w.LiveAsync()).Toggles);
        Assert.Equal([$"{Env}: new-checkout=removed"], publisher.Calls);
    }

    [Fact]
    public async Task Consul_publisher_writes_app_facing_keys_and_deletes_only_removed_ones()
    {
        await using var server = await ConsulTestServer.StartAsync(new FakeTimeProvider());
        using var consul = new ConsulClient(new ConsulClientOptions(server.Address));
        await consul.PutAsync("toggles/staging/other", Encoding.UTF8.GetBytes("true"));
        var publisher = new ConsulTogglePublisher(consul);

        await publisher.PublishAsync("staging", new Dictionary<string, bool?> { ["a"] = true, ["b"] = false }, CancellationToken.None);
        await publisher.PublishAsync("staging", new Dictionary<string, bool?> { ["a"] = null }, CancellationToken.None);

        async Task<string?> Value(string key) =>
            (await consul.GetAsync(key)).Value is { } pair ? Encoding.UTF8.GetString(pair.Value) : null;
        Assert.Null(await Value("toggles/staging/a"));
        Assert.Equal("false", await Value("toggles/staging/b"));
        Assert.Equal("true", await Value("toggles/staging/other"));
    }
}
