using System.Collections.Immutable;
using System.Text.Json;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.State;
using Xunit;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>An apply interrupted before an upgrade left a header in the previous format: the plan, live state before
/// and the field snapshot of each new service ("newFields"). The upgraded reconciler resumes, rolls back and repairs it.</summary>
public sealed class LegacyHeaderTests
{
    private const string ApplyId = "20261102T085500Z-0ld000";

    /// <summary>Journals what the previous version wrote for an apply of <paramref name="desired"/> that got as far as
    /// <paramref name="steps"/>, and puts the hosts where those steps left them.</summary>
    private static async Task InterruptedByTheOldVersionAsync(ExecutorWorld w, DesiredState desired, params (string Host, string Step)[] steps)
    {
        var live = await w.LiveAsync();
        var plan = TestPlanner.Plan(desired, live);
        var newFields = plan.Services.Where(s => s.Action != ServiceAction.NoOp && desired.Services.ContainsKey(s.Service))
            .ToImmutableSortedDictionary(s => s.Service, s => ServiceFields.Flatten(desired.Services[s.Service]), StringComparer.Ordinal);
        var header = JsonSerializer.Serialize(new { Plan = plan, Before = live, NewFields = newFields }, State.ReflectionJson.Compact);
        var at = w.Time.GetUtcNow();
        await Journal("begin", JournalStatus.Started, header);
        var change = plan.Services.Single(s => s.Action != ServiceAction.NoOp);
        var spec = desired.Services[change.Service];
        foreach (var (host, step) in steps)
        {
            var key = $"w{change.Wave}/{change.Service}/{host}/{step}";
            await Journal(key, JournalStatus.Started, null);
            w.Driver.SetCurrent(host, spec.Deploy.Path, ServiceFields.ReleaseId(spec));   // staged (and switched)
            if (step == "stage" && live.Services.GetValueOrDefault(change.Service)?.Hosts[host].ActiveRelease is { } running)
                w.Driver.SetCurrent(host, spec.Deploy.Path, running);                     // ... but only staged
            await Journal(key, JournalStatus.Finished, null);
        }

        Task Journal(string step, JournalStatus status, string? detail) =>
            w.Store.AppendJournalAsync(new JournalEntry(Env, ApplyId, desired.Revision, step, status, at, detail), CancellationToken.None);
    }

    [Fact]
    public async Task An_apply_interrupted_before_the_upgrade_resumes_where_it_stopped()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var db = Service("db", "2.1.0");
        var desired = w.Desired("c1", [db, ApiOld]);
        await InterruptedByTheOldVersionAsync(w, desired, ("web-1", "stage"), ("web-2", "stage"), ("web-1", "activate"));
        var calls = w.Driver.Calls.Count;

        var outcome = await w.ApplyAsync(w.Request(desired));

        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        Assert.All(w.Hosts, h => Assert.Equal(ServiceFields.ReleaseId(db), w.Driver.Current(h.Name, "/srv/db")));
        var resumed = w.Driver.Calls.Skip(calls).ToList();
        Assert.DoesNotContain(resumed, c => c.StartsWith("web-1 stage", StringComparison.Ordinal) || c.StartsWith("web-2 stage", StringComparison.Ordinal));
        Assert.DoesNotContain(resumed, c => c.StartsWith("web-1 activate", StringComparison.Ordinal));
        Assert.Equal(ApplyId, Assert.Single(await w.Store.ReadHistoryAsync(Env, 10, CancellationToken.None)).Id);
    }

    [Fact]
    public async Task A_service_it_was_creating_is_rolled_back_with_the_settings_of_the_old_header()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var worker = Service("worker", "0.1.0") with { Deploy = new DeploySpec(DriverKind.Ssh, "/srv/worker", "./restart", "./stop-worker", 5) };
        var desired = w.Desired("c1", [DbOld, ApiOld, worker]);
        await InterruptedByTheOldVersionAsync(w, desired, ("web-1", "stage"), ("web-2", "stage"), ("web-1", "activate"), ("web-2", "activate"));
        w.Probe.Healthy = (_, release) => release != ServiceFields.ReleaseId(worker);

        var outcome = await w.ApplyAsync(w.Request(desired));

        Assert.True(outcome.Result == ApplyResult.RolledBack, outcome.Message);
        Assert.All(w.Hosts, h => Assert.Null(w.Driver.Current(h.Name, "/srv/worker")));
        Assert.Contains("web-1 remove /srv/worker", w.Driver.Calls);
        Assert.False((await w.LiveAsync()).Services.ContainsKey("worker"));
    }

    [Fact]
    public async Task A_new_commit_repairs_hosts_the_old_version_left_mid_switch()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        await InterruptedByTheOldVersionAsync(w, w.Desired("c1", [Service("db", "2.1.0"), ApiOld]), ("web-1", "stage"), ("web-1", "activate"));

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c2", [DbOld, Service("api", "1.5.0", dependsOn: ["db"])])));

        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        Assert.All(w.Hosts, h => Assert.Equal(ServiceFields.ReleaseId(DbOld), w.Driver.Current(h.Name, "/srv/db")));
        var history = await w.Store.ReadHistoryAsync(Env, 10, CancellationToken.None);
        Assert.Equal([ApplyResult.Succeeded, ApplyResult.Interrupted], history.Select(h => h.Result));
    }
}
