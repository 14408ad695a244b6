using System.Collections.Immutable;
using System.Text.Json;
using Reconciler.Drivers;
using Reconciler.Drivers.Local;
using Reconciler.Schema.Model;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Infrastructure;
using Xunit;

namespace Reconciler.Engine.Tests.Drivers;

public sealed class LocalHostDriverTests : IDisposable
{
    private const string DeployPath = "/srv/api";
    private readonly TempDir _temp = new();
    private readonly LocalHostDriver _driver;
    private static CancellationToken Ct => TestContext.Timeout;

    public LocalHostDriverTests() =>
        _driver = new LocalHostDriver(new LocalDriverOptions { LocalRoot = _temp.Combine("local"), StepTimeout = TimeSpan.FromSeconds(20) });

    public void Dispose() => _temp.Dispose();

    private static HostSpec Host(string name, params (string Key, string Value)[] vars) =>
        new(name, "127.0.0.1", 22, "deploy", null, null, vars.ToImmutableSortedDictionary(v => v.Key, v => v.Value, StringComparer.Ordinal));

    private ReleaseBundle Bundle(TestArtifact artifact, string id, params (string Key, string Value)[] config) =>
        new("api", DeployPath, id, artifact.Path, artifact.Sha256, config.ToImmutableSortedDictionary(c => c.Key, c => c.Value, StringComparer.Ordinal));

    private string OnHost(string host, string relative) => Path.Combine(_temp.Path, "local", host, "srv", "api", relative);

    [Fact]
    public async Task Same_layout_as_ssh_under_the_local_root_with_one_directory_per_host()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Combine("a"));
        foreach (var name in new[] { "local-1", "local-2" })
        {
            var session = await _driver.OpenAsync(Host(name), Ct);
            await session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa", ("PORT", "8080")), Ct);
            await session.ActivateAsync(DeployPath, "1.0.0-aaaaaaaaaa", "./bin/restart ${release.path}", Ct);
        }

        foreach (var name in new[] { "local-1", "local-2" })
        {
            Assert.Equal("releases/1.0.0-aaaaaaaaaa", new FileInfo(OnHost(name, "current")).LinkTarget);
            Assert.Equal("v1\n", File.ReadAllText(OnHost(name, "current/VERSION")));
            Assert.Equal("{\n  \"PORT\": \"8080\"\n}\n", File.ReadAllText(OnHost(name, "current/config.json")));
            Assert.Equal("PORT='8080'\n", File.ReadAllText(OnHost(name, "current/.env")));
            Assert.Equal($"api 1.0.0-aaaaaaaaaa {name} {OnHost(name, "releases/1.0.0-aaaaaaaaaa")}\n", File.ReadAllText(OnHost(name, "restarted")));
        }
        var inspected = await (await _driver.OpenAsync(Host("local-1"), Ct)).InspectAsync(DeployPath, Ct);
        Assert.Equal(new HostReleases("1.0.0-aaaaaaaaaa", ["1.0.0-aaaaaaaaaa"]), inspected, HostReleasesComparer.Instance);
    }

    [Fact]
    public async Task Switching_current_is_atomic_and_repeatable()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Combine("a"));
        var session = await _driver.OpenAsync(Host("local-1"), Ct);
        await session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa"), Ct);
        await session.StageAsync(Bundle(artifact, "1.1.0-aaaaaaaaaa"), Ct);
        await session.ActivateAsync(DeployPath, "1.0.0-aaaaaaaaaa", null, Ct);
        var version = OnHost("local-1", "current/VERSION");
        using var stop = new CancellationTokenSource();
        long observations = 0, dangling = 0;
        var watcher = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref observations);
                if (!File.Exists(version)) dangling++;
            }
        });

        // Switch at least 200 times and until the watcher has looked often enough (a loaded machine may schedule it
        // late); bounded either way.
        var last = "1.0.0-aaaaaaaaaa";
        for (var i = 0; i < 20_000 && (i < 200 || Interlocked.Read(ref observations) < 200); i++)
        {
            last = i % 2 == 0 ? "1.1.0-aaaaaaaaaa" : "1.0.0-aaaaaaaaaa";
            await session.ActivateAsync(DeployPath, last, null, Ct);
        }
        await stop.CancelAsync();
        await watcher;

        Assert.True(Interlocked.Read(ref observations) >= 200, $"the watcher looked only {observations} times");
        Assert.Equal(0, dangling);
        Assert.Equal($"releases/{last}", new FileInfo(OnHost("local-1", "current")).LinkTarget);
        Assert.Empty(Directory.GetFileSystemEntries(OnHost("local-1", ""), ".current.tmp*"));
    }

    [Fact]
    public async Task A_restart_that_leaves_a_background_process_returns_and_the_process_keeps_running()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Combine("a"));
        var session = await _driver.OpenAsync(Host("local-1"), Ct);
        await session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa"), Ct);

        await session.ActivateAsync(DeployPath, "1.0.0-aaaaaaaaaa", "sleep 60 & echo $! > \"$RECONCILER_DEPLOY_PATH/pid\"", Ct);

        var pid = int.Parse(File.ReadAllText(OnHost("local-1", "pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        using var process = System.Diagnostics.Process.GetProcessById(pid);
        try { Assert.False(process.HasExited); }
        finally { process.Kill(); }
    }

    [Fact]
    public async Task Prune_keeps_newest_current_and_previous()
    {
        var session = await _driver.OpenAsync(Host("local-1"), Ct);
        var ids = new[] { "1.0.0-aaaaaaaaaa", "1.1.0-aaaaaaaaaa", "1.2.0-aaaaaaaaaa", "1.3.0-aaaaaaaaaa" };
        for (var i = 0; i < ids.Length; i++)
        {
            await session.StageAsync(Bundle(TestArtifact.WithRestartRecorder(_temp.Combine($"a{i}"), marker: ids[i]), ids[i]), Ct);
            File.SetLastWriteTimeUtc(OnHost("local-1", $"releases/{ids[i]}/.reconciler-release"), DateTime.UtcNow.AddMinutes(i - 10));
        }
        await session.ActivateAsync(DeployPath, ids[2], null, Ct);

        await session.PruneAsync(DeployPath, keep: 0, protect: [ids[0]], Ct);

        var left = await session.InspectAsync(DeployPath, Ct);
        Assert.Equal(new[] { ids[0], ids[2] }, left.Releases.ToArray());
        Assert.Equal(ids[2], left.Current);
    }

    [Fact]
    public async Task Hostile_values_are_written_literally_and_not_executed()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Combine("a"));
        var pwned = _temp.Combine("pwned");
        var session = await _driver.OpenAsync(Host("local-1", ("evil", $"$(touch {pwned}-1)")), Ct);

        await session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa", ("X", $"'; touch {pwned}-2; '")), Ct);
        await session.ActivateAsync(DeployPath, "1.0.0-aaaaaaaaaa", "./bin/restart ${host.vars.evil}", Ct);

        Assert.False(File.Exists(pwned + "-1"));
        Assert.False(File.Exists(pwned + "-2"));
        Assert.Equal($"'; touch {pwned}-2; '", JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(OnHost("local-1", "current/config.json")))!["X"]);
        Assert.EndsWith($"local-1 $(touch {pwned}-1)\n", File.ReadAllText(OnHost("local-1", "restarted")));
    }

    [Fact]
    public async Task A_checksum_mismatch_stages_nothing_and_names_both_checksums()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Combine("a"));
        var session = await _driver.OpenAsync(Host("local-1"), Ct);
        var wrong = new string('a', 64);

        var e = await Assert.ThrowsAsync<HostStepException>(() => session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa") with { ArtifactSha256 = wrong }, Ct));

        Assert.Contains($"does not match sha256 {wrong} (actual {artifact.Sha256})", e.Message);
        Assert.Empty(Directory.GetDirectories(OnHost("local-1", "releases")));
    }

    [Fact]
    public async Task Run_reports_exit_code_output_and_timeout()
    {
        var session = await _driver.OpenAsync(Host("local-1"), Ct);
        Assert.Equal(new CommandResult(3, "a\nb\n"), await session.RunAsync("echo a; echo b >&2; exit 3", TimeSpan.FromSeconds(10), Ct));
        Assert.Equal(124, (await session.RunAsync("sleep 30", TimeSpan.FromMilliseconds(200), Ct)).ExitCode);
    }

    [Fact]
    public async Task Remove_stops_and_drops_current_and_an_unsafe_host_name_is_refused()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Combine("a"));
        var session = await _driver.OpenAsync(Host("local-1"), Ct);
        await session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa"), Ct);
        await session.ActivateAsync(DeployPath, "1.0.0-aaaaaaaaaa", null, Ct);

        await session.RemoveAsync(DeployPath, "./bin/stop", Ct);
        await session.RemoveAsync(DeployPath, "./bin/stop", Ct);

        Assert.Equal("stopped\n", File.ReadAllText(OnHost("local-1", "stopped")));
        Assert.Null(new FileInfo(OnHost("local-1", "current")).LinkTarget);
        Assert.True(Directory.Exists(OnHost("local-1", "releases/1.0.0-aaaaaaaaaa")));
        await Assert.ThrowsAsync<HostStepException>(() => _driver.OpenAsync(Host("../x"), Ct));
    }
}
