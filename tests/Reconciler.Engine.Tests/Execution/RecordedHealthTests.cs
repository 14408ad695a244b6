using System.Collections.Immutable;
using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Xunit;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>A rollback gates the restored release with the checks recorded in live state's field snapshot: reading them
/// back gives exactly the spec that was applied, for every kind of check.</summary>
public sealed class RecordedHealthTests
{
    [Fact]
    public void The_checks_a_service_was_applied_with_are_read_back_exactly_from_its_field_snapshot()
    {
        var health = new HealthSpec(
        [
            new HealthCheckSpec(HealthCheckKind.Http, "http://${host.address}:8080/health?x=1 timeout 2", 204, null, null, null, null, TimeSpan.FromSeconds(2)),
            new HealthCheckSpec(HealthCheckKind.Tcp, null, null, null, 5432, null, null, TimeSpan.FromMilliseconds(1500)),
            new HealthCheckSpec(HealthCheckKind.Tcp, null, null, "10.0.0.7", 6379, null, null, TimeSpan.FromSeconds(1)),
            new HealthCheckSpec(HealthCheckKind.Command, null, null, null, null, "curl -sf localhost:9000 timeout 3 && test -f ${deploy.path}/current/ok", null, TimeSpan.FromMinutes(1)),
            new HealthCheckSpec(HealthCheckKind.Consul, null, null, null, null, null, "api", TimeSpan.FromSeconds(5)),
        ], TimeSpan.FromMilliseconds(250), 3, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(2));
        var spec = new ServiceSpec("api", true, "1.0.0", new ArtifactSpec("a.tar.gz", new string('a', 64)), [], "web",
            new DeploySpec(DriverKind.Ssh, "/srv/api", null, null, 5), new StrategySpec(StrategyKind.Rolling, new MaxParallel(1, false), 1), health,
            ImmutableSortedDictionary<string, ConfigValue>.Empty, null, null);

        var read = RecordedHealth.FromFields(ServiceFields.Flatten(spec));

        Assert.NotNull(read);
        Assert.Equal(health.Checks.ToArray(), read.Checks.ToArray());
        Assert.Equal((health.Interval, health.ConsecutivePasses, health.MinHealthy, health.Deadline),
            (read.Interval, read.ConsecutivePasses, read.MinHealthy, read.Deadline));
    }

    [Fact]
    public void A_snapshot_without_readable_health_fields_gives_null_so_the_caller_can_say_so()
    {
        Assert.Null(RecordedHealth.FromFields(new Dictionary<string, string> { ["health.interval"] = "soon" }));
        Assert.Null(RecordedHealth.FromFields(new Dictionary<string, string>
        {
            ["health.interval"] = "1s", ["health.consecutivePasses"] = "1", ["health.minHealthy"] = "0s", ["health.deadline"] = "5s",
            ["health.checks[0]"] = "carrier-pigeon timeout 1s",
        }));
    }
}
