using Reconciler.Execution;
using Reconciler.State;
using Xunit;

namespace Reconciler.Engine.Tests.EndToEnd;

/// <summary>
/// Finding 9 of issue 11 on real sshd: hosts roll out in the order the host group lists them (not sorted by name), and a
/// service's maxParallel is honoured as written: the apply's default cap never lowers it (here a default of 2 with
/// maxParallel 4: all four restarts must run at once to pass their barrier), while --max-parallel may, and the progress
/// says so. An opt-in failureThreshold fails a gate whose check keeps failing without waiting for its deadline.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class RolloutAsWrittenTests(FourHostFleet fixture) : IClassFixture<FourHostFleet>, IAsyncLifetime
{
    private readonly FleetWorld _world = new(fixture.Fleet);
    private readonly string _barrier = Directory.CreateTempSubdirectory("reconciler-barrier-").FullName;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        Directory.Delete(_barrier, recursive: true);
        await _world.DisposeAsync();
    }

    [Fact]
    public async Task Hosts_roll_out_in_the_listed_order()
    {
        var listed = new[] { 2, 0, 3, 1 }.Select(i => _world.Fleet.Hosts[i]).ToList();   // web-3, web-1, web-4, web-2

        await _world.SucceedsAsync(_world.Desired("c1", listed, _world.Service("api", "1.0.0", FleetWorld.Rolling(1))));

        var activated = _world.Progress.Where(p => p.Step == "activate" && p.Status == "finished").Select(p => p.Host);
        Assert.Equal(["web-3", "web-1", "web-4", "web-2"], activated);
    }

    // Every restart waits (bounded) until all four hosts have arrived: it passes only when the four run at once.
    private string BarrierRestart(string name) =>
        $"#!/bin/sh\nd={_barrier}/{name}; mkdir -p $d; touch $d/$RECONCILER_HOST\n" +
        "i=0; while [ $(ls $d | wc -l) -lt 4 ]; do i=$((i+1)); [ $i -lt 300 ] || { echo \"only $(ls $d | wc -l) of 4 hosts at once\"; exit 1; }; sleep 0.1; done\n";

    [Fact]
    public async Task A_written_max_parallel_above_the_default_cap_is_honoured()
    {
        var api = _world.Service("api", "1.0.0", FleetWorld.Rolling(4), restart: BarrierRestart("default"));

        var outcome = await _world.ApplyAsync(_world.Desired("c1", api), options: new ReconcileOptions { DefaultMaxParallel = 2 });

        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        Assert.DoesNotContain(_world.Progress, p => p.Step == "batch");
    }

    [Fact]
    public async Task A_failure_threshold_fails_a_failing_check_before_its_deadline()
    {
        await _world.SucceedsAsync(_world.Desired("c1", _world.Service("api", "1.0.0")));
        var health = FleetWorld.FastHealth with { Deadline = TimeSpan.FromMinutes(10), FailureThreshold = 3, InitialDelay = TimeSpan.FromMilliseconds(200) };

        var outcome = await _world.ApplyAsync(_world.Desired("c2", _world.Service("api", "1.1.0", healthy: false, health: health)));

        Assert.Equal(ApplyResult.RolledBack, outcome.Result);
        Assert.Contains("3 consecutive failed checks (failureThreshold 3): command check: command exited 1", outcome.Message);
        Assert.DoesNotContain("not healthy within", outcome.Message);
    }

    [Fact]
    public async Task Max_parallel_from_the_command_line_lowers_it_and_the_progress_says_so()
    {
        var api = _world.Service("api", "1.0.0", FleetWorld.Rolling(4));

        var outcome = await _world.ApplyAsync(_world.Desired("c1", api), maxParallel: 2);

        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        Assert.Contains(_world.Progress, p => p is { Step: "batch", Service: "api" }
                                              && p.Status == "api: maxParallel 4 is lowered to 2 host steps at a time by --max-parallel 2");
    }
}
