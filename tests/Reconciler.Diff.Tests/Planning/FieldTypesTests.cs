using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Xunit;
using static Reconciler.Diff.Tests.Planning.PlanFixtures;

namespace Reconciler.Diff.Tests.Planning;

/// <summary>The type of each snapshot field (what the views show numbers, lists and durations by) and the rollout
/// settings the planner attaches to each change.</summary>
public class FieldTypesTests
{
    [Theory]
    [InlineData("deploy.keepReleases", FieldValueType.Integer)]
    [InlineData("strategy.canary", FieldValueType.Integer)]
    [InlineData("health.consecutivePasses", FieldValueType.Integer)]
    [InlineData("strategy.maxParallel", FieldValueType.BatchSize)]
    [InlineData("health.deadline", FieldValueType.Duration)]
    [InlineData("health.interval", FieldValueType.Duration)]
    [InlineData("health.minHealthy", FieldValueType.Duration)]
    [InlineData("deploy.driver", FieldValueType.Keyword)]
    [InlineData("strategy.type", FieldValueType.Keyword)]
    [InlineData("onFailure", FieldValueType.Keyword)]
    [InlineData("dependsOn", FieldValueType.List)]
    [InlineData("version", FieldValueType.Text)]
    [InlineData("config.PORT", FieldValueType.Text)]
    [InlineData("config.deploy.keepReleases", FieldValueType.Text)]
    [InlineData("health.checks[0]", FieldValueType.Text)]
    public void Type_follows_from_the_path(string path, FieldValueType type) => Assert.Equal(type, FieldTypes.Of(path));

    [Fact]
    public void Every_path_a_service_flattens_to_has_a_type_that_parses()
    {
        var spec = Svc("api", "1.0.0", ["auth", "db"]) with { Strategy = new StrategySpec(StrategyKind.Canary, new MaxParallel(50, true), 1) };
        foreach (var (path, value) in ServiceFields.Flatten(spec))
        {
            switch (FieldTypes.Of(path))
            {
                case FieldValueType.Integer: Assert.True(int.TryParse(value, out _), $"{path} = {value}"); break;
                case FieldValueType.BatchSize: Assert.Matches("^[0-9]+%?$", value); break;
                case FieldValueType.Duration: Assert.Matches("^[0-9]+(ms|s|m)$", value); break;
                case FieldValueType.List: Assert.Equal(["auth", "db"], FieldTypes.Items(value).ToArray()); break;
            }
        }
        Assert.Empty(FieldTypes.Items(""));
    }

    [Fact]
    public void Changes_carry_their_rollout_and_removals_and_no_ops_do_not()
    {
        var before = Desired([Svc("db"), Svc("api", "1.0.0"), Svc("old")]);
        var canary = Svc("api", "1.1.0") with
        {
            Strategy = new StrategySpec(StrategyKind.Canary, new MaxParallel(2, false), 1),
            OnFailure = OnFailure.Halt,
        };
        var plan = Planner.Plan(Desired([Svc("db"), canary, Svc("new")]), Applied(before));
        var byName = plan.Services.ToDictionary(s => s.Service);
        Assert.Equal(new Rollout("canary", "2", 1, 1, Health.ConsecutivePasses, ServiceFields.Duration(Health.Deadline), "halt"), byName["api"].Rollout);
        Assert.Equal("rolling", byName["new"].Rollout!.Strategy);
        Assert.Null(byName["new"].Rollout!.CanaryHosts);
        Assert.Equal("rollback", byName["new"].Rollout!.OnFailure);
        Assert.Null(byName["old"].Rollout);
        Assert.Null(byName["db"].Rollout);
    }
}
