using System.Diagnostics;
using Reconciler.Diff.Planning;
using Reconciler.State;
using Xunit;

namespace Reconciler.Engine.Tests.EndToEnd;

/// <summary>
/// Finding 8 of issue 11 on real sshd: what interrupted stages leave (releases/.tmp-*, .artifacts/.upload-*) is removed
/// the next time the host is visited, except what a running stage still uses; and a rollback prunes, so consecutive
/// failed commits do not grow releases/ past keepReleases, never touching the current or the previous release.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class HostHygieneTests(FourHostFleet fixture) : IClassFixture<FourHostFleet>, IAsyncLifetime
{
    private readonly FleetWorld _world = new(fixture.Fleet);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _world.DisposeAsync();

    [Fact]
    public async Task Leftovers_of_interrupted_stages_are_removed_at_the_next_visit_but_not_those_of_a_running_stage()
    {
        await _world.SucceedsAsync(_world.Desired("c1", _world.Service("api", "1.0.0")));
        var sha = new string('a', 64);
        // What a stage killed with its connection leaves: its shell (the pid in the name) is gone.
        using var gone = Process.Start("/bin/sh", ["-c", "exit 0"]);
        await gone.WaitForExitAsync();
        // And what a stage still running leaves: its shell lives.
        using var running = Process.Start("/bin/sleep", ["120"]);
        try
        {
            var root = _world.Fleet.OnHost(0, $"{_world.Root}/api");
            Directory.CreateDirectory(Path.Combine(root, "releases", $".tmp-1.1.0-0123456789.{gone.Id}", "bin"));
            File.WriteAllText(Path.Combine(root, ".artifacts", $".upload-{sha}.{gone.Id}"), "half an artifact");
            File.CreateSymbolicLink(Path.Combine(root, $".current.tmp.{gone.Id}"), "releases/x");
            Directory.CreateDirectory(Path.Combine(root, "releases", $".tmp-1.1.0-0123456789.{running.Id}"));
            File.WriteAllText(Path.Combine(root, ".artifacts", $".upload-{sha}.{running.Id}"), "being written");

            await _world.SucceedsAsync(_world.Desired("c2", _world.Service("api", "1.1.0")));

            Assert.Equal([$".tmp-1.1.0-0123456789.{running.Id}"], _world.Entries(0, $"{_world.Root}/api/releases").Where(e => e.StartsWith('.')));
            Assert.Equal([$".upload-{sha}.{running.Id}"], _world.Entries(0, $"{_world.Root}/api/.artifacts").Where(e => e.StartsWith('.')));
            Assert.DoesNotContain(_world.Entries(0, $"{_world.Root}/api"), e => e.StartsWith(".current.tmp", StringComparison.Ordinal));
        }
        finally
        {
            running.Kill();
        }
    }

    [Fact]
    public async Task Consecutive_failed_commits_keep_releases_within_keep_releases_and_never_prune_current_or_previous()
    {
        var v1 = _world.Service("api", "1.0.0", keepReleases: 2);
        var v2 = _world.Service("api", "1.1.0", keepReleases: 2);
        await _world.SucceedsAsync(_world.Desired("c1", v1));
        await _world.SucceedsAsync(_world.Desired("c2", v2));

        foreach (var (commit, version) in new[] { ("c3", "1.2.0"), ("c4", "1.3.0") })
        {
            var outcome = await _world.ApplyAsync(_world.Desired(commit, _world.Service("api", version, healthy: false, keepReleases: 2)));
            Assert.True(outcome.Result == ApplyResult.RolledBack, outcome.Message);
        }

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal($"releases/{ServiceFields.ReleaseId(v2)}", _world.Current(i, "api"));
            Assert.Equal([ServiceFields.ReleaseId(v1), ServiceFields.ReleaseId(v2)],
                _world.Entries(i, $"{_world.Root}/api/releases").Where(e => !e.StartsWith('.')));
        }
    }
}
