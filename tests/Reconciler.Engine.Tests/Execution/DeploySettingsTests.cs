using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;
using Xunit;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>Rollback and repair switch hosts back with the deploy settings the journal header records, typed: a driver
/// nobody knows is an error, never a guess.</summary>
public sealed class DeploySettingsTests
{
    [Theory]
    [InlineData(DriverKind.Ssh)]
    [InlineData(DriverKind.Local)]
    [InlineData(DriverKind.ConsulKv)]
    public void Settings_read_from_a_field_snapshot_are_the_ones_it_was_made_from(DriverKind driver)
    {
        var spec = ApiOld with { Deploy = new DeploySpec(driver, "/srv/api", "./restart --now", null, 3) };

        Assert.Equal(DeploySettings.Of(spec.Deploy), DeploySettings.FromFields("api", ServiceFields.Flatten(spec)));
    }

    [Theory]
    [InlineData("deploy.driver", "nomad", "names deploy driver 'nomad', which this version of reconciler does not know (known: ssh, local, consul-kv)")]
    [InlineData("deploy.driver", "SSH", "names deploy driver 'SSH'")]
    [InlineData("deploy.driver", "", "names deploy driver ''")]
    [InlineData("deploy.driver", null, "has no deploy.driver field")]
    [InlineData("deploy.path", null, "has no deploy.path field")]
    [InlineData("deploy.keepReleases", "five", "has deploy.keepReleases 'five', not a count")]
    [InlineData("deploy.keepReleases", null, "has no deploy.keepReleases field")]
    public void A_snapshot_with_an_unknown_driver_or_a_missing_setting_is_refused(string field, string? value, string problem)
    {
        var fields = ServiceFields.Flatten(ApiOld);
        fields = value is null ? fields.Remove(field) : fields.SetItem(field, value);

        var e = Assert.Throws<ReconcilerException>(() => DeploySettings.FromFields("api", fields));

        Assert.Equal(FailureKind.StoreUnavailable, e.Kind);
        Assert.Contains($"live state of service 'api' {problem}", e.Message);
        Assert.Contains("Nothing was changed", e.Message);
    }

    [Fact]
    public async Task An_apply_over_live_state_naming_an_unknown_driver_changes_nothing()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var live = await w.LiveAsync();
        var api = live.Services["api"];
        w.Store.Seed(live with { Services = live.Services.SetItem("api", api with { Fields = api.Fields.SetItem("deploy.driver", "nomad") }) });
        var calls = w.Driver.Calls.Count;

        var e = await Assert.ThrowsAsync<ReconcilerException>(() =>
            w.ApplyAsync(w.Request(w.Desired("c1", [DbOld, Service("api", "1.5.0", dependsOn: ["db"])]))));

        Assert.Equal(FailureKind.StoreUnavailable, e.Kind);
        Assert.Contains("'nomad'", e.Message);
        Assert.Equal(calls, w.Driver.Calls.Count);
        Assert.Equal(0, w.Store.JournalCount);
        Assert.Equal(0, w.Store.Writes);
        Assert.Null(await w.Store.ReadLockAsync(Env, CancellationToken.None));
    }

    [Fact]
    public async Task The_header_records_each_changed_services_settings_before_and_after_and_reads_back_the_same()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var live = await w.LiveAsync();
        var worker = Service("worker", "0.1.0") with { Deploy = new DeploySpec(DriverKind.Local, "/srv/worker", null, "./stop", 2) };
        var desired = w.Desired("c1", [Service("db", "2.1.0"), worker]);
        var header = ApplyHeader.Create(desired, TestPlanner.Plan(desired, live), live);

        Assert.Equal(["api", "db", "worker"], header.Deploys.Keys);
        Assert.Equal(new ServiceDeploys(DeploySettings.Of(ApiOld.Deploy), null), header.Deploys["api"]);   // removed
        Assert.Equal(new ServiceDeploys(DeploySettings.Of(DbOld.Deploy), DeploySettings.Of(DbOld.Deploy)), header.Deploys["db"]);
        Assert.Equal(new ServiceDeploys(null, DeploySettings.Of(worker.Deploy)), header.Deploys["worker"]);   // created
        Assert.Equal(DeploySettings.Of(worker.Deploy), header.Deploys["worker"].Recorded);
        var json = header.ToJson();
        Assert.Contains("\"worker\":{\"after\":{\"driver\":\"local\",\"path\":\"/srv/worker\",\"stopCommand\":\"./stop\",\"keepReleases\":2}}", json);

        var read = ApplyHeader.Read([Begin("c1", json)]);

        Assert.NotNull(read);
        Assert.Equal(header.Deploys, read.Deploys);
        Assert.Equal(header.Plan.Commit, read.Plan.Commit);
    }

    [Fact]
    public async Task The_header_keeps_live_state_before_of_only_the_services_and_toggles_the_plan_changes()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var live = await w.LiveAsync();
        var desired = w.Desired("c1", [Service("db", "2.1.0"), ApiOld]);   // api unchanged
        var plan = TestPlanner.Plan(desired, live);
        Assert.Equal(ServiceAction.NoOp, plan.Services.Single(s => s.Service == "api").Action);

        var header = ApplyHeader.Create(desired, plan, live);
        var read = ApplyHeader.Read([Begin("c1", header.ToJson())]);

        Assert.Equal(["db"], header.Before.Services.Keys);
        Assert.Equal(live.Services["db"], header.Before.Services["db"]);
        Assert.Equal(live.Version, header.Before.Version);
        Assert.NotNull(read);
        Assert.Equal(["db"], read.Before.Services.Keys);
        Assert.DoesNotContain("\"api\":{\"name\"", header.ToJson());
    }

    [Fact]
    public async Task A_stored_header_naming_an_unknown_driver_is_refused_with_its_name()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var live = await w.LiveAsync();
        var desired = w.Desired("c1", [DbOld, Service("api", "1.5.0", dependsOn: ["db"])]);
        var json = ApplyHeader.Create(desired, TestPlanner.Plan(desired, live), live).ToJson();
        Assert.Contains("\"driver\":\"ssh\"", json);

        var e = Assert.Throws<ReconcilerException>(() => ApplyHeader.Read([Begin("c1", json.Replace("\"driver\":\"ssh\"", "\"driver\":\"nomad\""))]));

        Assert.Equal(FailureKind.StoreUnavailable, e.Kind);
        Assert.Contains("unknown deploy driver 'nomad' (known: ssh, local, consul-kv)", e.Message);
        Assert.Contains("cannot be read", e.Message);
    }

    [Fact]
    public async Task A_stored_header_without_deploy_settings_is_refused()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var live = await w.LiveAsync();
        var desired = w.Desired("c1", [DbOld, Service("api", "1.5.0", dependsOn: ["db"])]);
        var json = System.Text.Json.JsonSerializer.Serialize(new { Plan = TestPlanner.Plan(desired, live), Before = live }, State.ReflectionJson.Compact);

        var e = Assert.Throws<ReconcilerException>(() => ApplyHeader.Read([Begin("c1", json)]));

        Assert.Equal(FailureKind.StoreUnavailable, e.Kind);
        Assert.Contains("neither 'deploys' nor 'newFields'", e.Message);
    }

    private static JournalEntry Begin(string commit, string detail) =>
        new(Env, "a1", commit, "begin", JournalStatus.Started, DateTimeOffset.UnixEpoch, detail);
}
