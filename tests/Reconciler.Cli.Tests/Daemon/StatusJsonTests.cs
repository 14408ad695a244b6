using System.Text.Json.Nodes;
using Reconciler.Daemon;
using Xunit;

namespace Reconciler.Cli.Tests.Daemon;

/// <summary>/status names each last result's failure kind and, as documented in docs/cli/run.md, the exit code
/// `reconciler apply` ends with for it; the engine itself knows no exit codes.</summary>
public sealed class StatusJsonTests
{
    private static readonly DateTimeOffset At = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Theory]
    [InlineData(null, 0, null)]
    [InlineData(FailureKind.CommitFault, 3, "commit-fault")]
    [InlineData(FailureKind.AlreadyQuarantined, 8, "already-quarantined")]
    [InlineData(FailureKind.LockedOrFrozen, 6, "locked-or-frozen")]
    [InlineData(FailureKind.EnvironmentFault, 9, "environment-fault")]
    public void Last_result_carries_its_failure_kind_and_exit_code(FailureKind? failure, int exitCode, string? kind)
    {
        var status = new DaemonStatus([new EnvironmentStatus("prod", "aaaa1111", At, null,
            new LastResult("aaaa1111", "whatever", failure, "message", At, At), null, [], null, null)]);

        var last = JsonNode.Parse(DaemonHttp.StatusJson(status))!["environments"]![0]!["lastResult"]!;

        Assert.Equal(exitCode, (int)last["exitCode"]!);
        Assert.Equal(kind, (string?)last["failure"]);
    }

    [Fact]
    public void An_environment_without_a_last_result_has_no_exit_code()
    {
        var status = new DaemonStatus([new EnvironmentStatus("prod", null, null, null, null, null, [], null, null)]);
        var env = JsonNode.Parse(DaemonHttp.StatusJson(status))!["environments"]![0]!.AsObject();
        Assert.False(env.ContainsKey("lastResult"));
    }
}
