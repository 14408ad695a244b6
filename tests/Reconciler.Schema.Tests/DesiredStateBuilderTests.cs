using Reconciler.Schema.Model;

namespace Reconciler.Schema.Tests;

public class DesiredStateBuilderTests
{
    private static readonly RepoModel Model = FixtureRepo.LoadGood();

    [Fact]
    public void Production_override_replaces_version_merges_config_and_merges_deploy_field_by_field()
    {
        var api = DesiredStateBuilder.Build(Model, "production").Services["api"];

        Assert.Equal("1.4.1", api.Version);
        Assert.Equal(new ConfigValue.Literal("warn"), api.Config["LOG_LEVEL"]);
        Assert.Equal(new ConfigValue.Literal("1.10"), api.Config["RATIO"]);           // as written, not 1.1
        Assert.Equal(new ConfigValue.Literal("true"), api.Config["FEATURE_X"]);
        Assert.Equal(new ConfigValue.Secret("env:API_DB_PASSWORD"), api.Config["DB_PASSWORD"]);
        Assert.Equal(10, api.Deploy.KeepReleases);
        Assert.Equal("/srv/api", api.Deploy.Path);
        Assert.Equal("./bin/restart --port ${host.vars.httpPort}", api.Deploy.RestartCommand);
        Assert.Equal("artifacts/api-1.4.1.tar.gz", api.Artifact.Url);
    }

    [Fact]
    public void Lifecycle_hooks_are_read_and_an_override_merges_them_field_by_field()
    {
        var production = DesiredStateBuilder.Build(Model, "production").Services["reports"].Deploy.Hooks;
        var baseHooks = Model.Services["reports"].Base.Deploy.Hooks;

        Assert.Equal(new LifecycleHooks("consul maint -enable -service reports -reason \"deploy ${release.id}\"", null,
            "consul maint -disable -service reports", TimeSpan.FromSeconds(30)), baseHooks);
        Assert.Equal(baseHooks! with { Timeout = TimeSpan.FromSeconds(45) }, production);
        Assert.Null(Model.Services["api"].Base.Deploy.Hooks);
    }

    [Fact]
    public void Staging_override_replaces_strategy_and_keeps_base_elsewhere()
    {
        var api = DesiredStateBuilder.Build(Model, "staging").Services["api"];

        Assert.Equal("1.4.2", api.Version);
        Assert.Equal(new StrategySpec(StrategyKind.Rolling, new MaxParallel(1, false), 1), api.Strategy);
        Assert.Equal(new ConfigValue.Literal("info"), api.Config["LOG_LEVEL"]);
        Assert.Equal(5, api.Deploy.KeepReleases);
        Assert.Equal("artifacts/api-1.4.2.tar.gz", api.Artifact.Url);
    }

    [Fact]
    public void Enabled_false_drops_the_service_from_that_environment_only()
    {
        Assert.DoesNotContain("reports", DesiredStateBuilder.Build(Model, "staging").Services.Keys);
        Assert.Contains("reports", DesiredStateBuilder.Build(Model, "production").Services.Keys);
    }

    [Fact]
    public void Defaults_come_from_reconciler_yaml_and_on_failure_resolves_service_then_environment_then_repository()
    {
        var production = DesiredStateBuilder.Build(Model, "production");
        var auth = production.Services["auth"];

        Assert.Equal(new StrategySpec(StrategyKind.Rolling, new MaxParallel(25, true), 1), auth.Strategy);
        Assert.Equal(TimeSpan.FromSeconds(30), auth.Health.Deadline);
        Assert.Equal(TimeSpan.FromSeconds(2), auth.Health.MinHealthy);
        Assert.Equal(2, auth.Health.ConsecutivePasses);
        Assert.Equal(DriverKind.Ssh, auth.Deploy.Driver);
        Assert.Equal(OnFailure.Rollback, auth.OnFailure);
        Assert.Equal(OnFailure.Halt, production.Services["db-migrate"].OnFailure);
        Assert.Equal(new[] { "auth", "db-migrate" }, production.Services["api"].DependsOn.ToArray());
    }

    [Fact]
    public void Health_checks_get_their_defaults()
    {
        var checks = DesiredStateBuilder.Build(Model, "production").Services["api"].Health.Checks;

        Assert.Equal(
            new[]
            {
                new HealthCheckSpec(HealthCheckKind.Http, "http://${host.address}:${host.vars.httpPort}/health", 200, null, null, null, null, TimeSpan.FromSeconds(2)),
                new HealthCheckSpec(HealthCheckKind.Tcp, null, null, "${host.address}", 8080, null, null, TimeSpan.FromSeconds(5)),
                new HealthCheckSpec(HealthCheckKind.Command, null, null, null, null, "test -f /run/api.ready", null, TimeSpan.FromSeconds(5)),
                new HealthCheckSpec(HealthCheckKind.Consul, null, null, null, null, null, "api", TimeSpan.FromSeconds(5)),
            },
            checks.ToArray());
    }

    [Fact]
    public void Environment_hosts_regions_freeze_windows_and_toggles_are_read()
    {
        var production = DesiredStateBuilder.Build(Model, "production");
        var host = production.EnvironmentSpec.HostGroups["app"].Hosts[1];

        Assert.Equal(new[] { "eu-west", "us-east" }, production.EnvironmentSpec.Regions.ToArray());
        Assert.Equal(new HostSpec("app-us-1", "app-us-1.example.com", 22, "deploy", null, "us-east", host.Vars), host);
        Assert.Equal("8080", host.Vars["httpPort"]);
        Assert.Equal(new DateTimeOffset(2026, 12, 24, 0, 0, 0, TimeSpan.Zero), production.EnvironmentSpec.FreezeWindows[0].Start);
        Assert.False(production.Toggles["new-checkout"].Enabled);
        Assert.True(DesiredStateBuilder.Build(Model, "staging").Toggles["new-checkout"].Enabled);
        Assert.Equal(">=1.5.0", production.Toggles["new-checkout"].Requires["api"]);
    }

    [Fact]
    public void Unknown_environment_names_the_known_ones()
    {
        var e = Assert.Throws<UnknownEnvironmentException>(() => DesiredStateBuilder.Build(Model, "prod"));

        Assert.Equal("unknown environment 'prod'; the repo defines: production, staging", e.Message);
    }
}

/// <summary>The opt-in health fields of issue 11 (failureThreshold, initialDelay): read, defaulted, and overridable.</summary>
public class HealthFailureThresholdTests
{
    [Fact]
    public void Failure_threshold_and_initial_delay_are_read_and_absent_by_default()
    {
        var files = FixtureRepo.Files();
        var api = System.Text.Encoding.UTF8.GetString(files["services/api.yaml"]);
        files["services/api.yaml"] = System.Text.Encoding.UTF8.GetBytes(api.Replace("  deadline: 60s\n", "  deadline: 60s\n  failureThreshold: 3\n  initialDelay: 5s\n"));
        var result = Loading.RepoLoader.Load(new Loading.InMemoryRepoSource(files, "working-tree"));
        Assert.True(result.Diagnostics.IsEmpty, FixtureRepo.Render(result));

        var health = DesiredStateBuilder.Build(result.Model!, "staging").Services["api"].Health;
        Assert.Equal(3, health.FailureThreshold);
        Assert.Equal(TimeSpan.FromSeconds(5), health.InitialDelay);
        var auth = DesiredStateBuilder.Build(FixtureRepo.LoadGood(), "staging").Services["auth"].Health;
        Assert.Null(auth.FailureThreshold);
        Assert.Equal(TimeSpan.Zero, auth.InitialDelay);
    }
}
