using System.Collections.Immutable;
using System.Diagnostics;
using System.Text.Json;
using Reconciler.Drivers;
using Reconciler.Drivers.Ssh;
using Reconciler.Schema.Model;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Infrastructure;
using Xunit;

namespace Reconciler.Engine.Tests.Drivers;

/// <summary>Four real sshd hosts shared by the tests of this class; every test deploys under its own path.</summary>
public sealed class FourHostFleet() : SshdFleetFixture(4, "app");

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Category", "EndToEnd")]
public sealed class SshHostDriverTests(FourHostFleet fixture) : IClassFixture<FourHostFleet>, IDisposable
{
    private readonly SshdFleet _fleet = fixture.Fleet;
    private readonly TempDir _temp = new();
    private readonly string _deployPath = $"/srv/t-{Guid.NewGuid():N}/api";
    private readonly List<string> _warnings = [];
    private static CancellationToken Ct => TestContext.Timeout;

    public void Dispose() => _temp.Dispose();

    private SshHostDriver Driver(bool trustUnknown = false, SshUpload upload = SshUpload.Exec) => new(new SshDriverOptions
    {
        PrivateKeyPath = _fleet.ClientKeyPath,
        TrustUnknownHostKeys = trustUnknown,
        Upload = upload,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        Warn = _warnings.Add,
    });

    private ReleaseBundle Bundle(TestArtifact artifact, string releaseId, params (string Key, string Value)[] config) =>
        new("api", _deployPath, releaseId, artifact.Path, artifact.Sha256,
            config.ToImmutableSortedDictionary(c => c.Key, c => c.Value, StringComparer.Ordinal));

    private string OnHost(int host, string relative) => _fleet.OnHost(host, $"{_deployPath}/{relative}");

    private string? CurrentTarget(int host) => new FileInfo(OnHost(host, "current")).LinkTarget;

    [Fact]
    public async Task Stage_and_activate_on_four_hosts_switches_current_writes_config_and_runs_the_restart()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Path);
        await using var driver = Driver();
        await Task.WhenAll(_fleet.Hosts.Select(async host =>
        {
            var session = await driver.OpenAsync(host, Ct);
            await session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa", ("LOG_LEVEL", "info"), ("PORT", "8080")), Ct);
            await session.ActivateAsync(_deployPath, "1.0.0-aaaaaaaaaa", "./bin/restart ${host.name}", Ct);
        }));

        for (var i = 0; i < _fleet.Hosts.Length; i++)
        {
            Assert.Equal("releases/1.0.0-aaaaaaaaaa", CurrentTarget(i));
            Assert.Equal("v1\n", File.ReadAllText(OnHost(i, "current/VERSION")));
            Assert.Equal("{\n  \"LOG_LEVEL\": \"info\",\n  \"PORT\": \"8080\"\n}\n", File.ReadAllText(OnHost(i, "current/config.json")));
            Assert.Equal("LOG_LEVEL='info'\nPORT='8080'\n", File.ReadAllText(OnHost(i, "current/.env")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(OnHost(i, "current/.env")));
            Assert.Equal($"api 1.0.0-aaaaaaaaaa app-{i + 1} app-{i + 1}\n", File.ReadAllText(OnHost(i, "restarted")));
            var session = await driver.OpenAsync(_fleet.Hosts[i], Ct);
            Assert.Equal(new HostReleases("1.0.0-aaaaaaaaaa", ["1.0.0-aaaaaaaaaa"]),
                await session.InspectAsync(_deployPath, Ct), HostReleasesComparer.Instance);
        }
        Assert.Equal(4, driver.Uploads);
    }

    [Fact]
    public async Task Staging_twice_uploads_once_and_a_config_only_change_uploads_nothing()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Path);
        await using var driver = Driver();
        var session = await driver.OpenAsync(_fleet.Hosts[0], Ct);

        await session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa", ("K", "1")), Ct);
        await session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa", ("K", "1")), Ct);
        Assert.Equal(1, driver.Uploads);

        // Same artifact, new config: a new release unpacked from the artifact already on the host.
        await session.StageAsync(Bundle(artifact, "1.0.0-bbbbbbbbbb", ("K", "2")), Ct);
        Assert.Equal(1, driver.Uploads);
        Assert.Equal("{\n  \"K\": \"2\"\n}\n", File.ReadAllText(OnHost(0, "releases/1.0.0-bbbbbbbbbb/config.json")));
        Assert.Equal("v1\n", File.ReadAllText(OnHost(0, "releases/1.0.0-bbbbbbbbbb/VERSION")));
        Assert.Empty(Directory.GetDirectories(OnHost(0, "releases"), ".tmp-*"));
    }

    [Fact]
    public async Task Sftp_upload_mode_stages_the_same_release()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Path);
        await using var driver = Driver(upload: SshUpload.Sftp);
        var session = await driver.OpenAsync(_fleet.Hosts[1], Ct);
        await session.StageAsync(Bundle(artifact, "2.0.0-aaaaaaaaaa", ("K", "v")), Ct);
        await session.StageAsync(Bundle(artifact, "2.0.0-aaaaaaaaaa", ("K", "v")), Ct);
        Assert.Equal(1, driver.Uploads);
        Assert.Equal("v1\n", File.ReadAllText(OnHost(1, "releases/2.0.0-aaaaaaaaaa/VERSION")));
    }

    [Fact]
    public async Task A_corrupt_artifact_on_the_host_is_replaced_by_a_fresh_upload()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Path);
        await using var driver = Driver();
        var session = await driver.OpenAsync(_fleet.Hosts[2], Ct);
        await session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa"), Ct);
        File.WriteAllText(OnHost(2, $".artifacts/{artifact.Sha256}.tar.gz"), "garbage");

        await session.StageAsync(Bundle(artifact, "1.0.0-bbbbbbbbbb"), Ct);

        Assert.Equal(2, driver.Uploads);
        Assert.Equal("v1\n", File.ReadAllText(OnHost(2, "releases/1.0.0-bbbbbbbbbb/VERSION")));
    }

    [Fact]
    public async Task An_artifact_that_does_not_match_its_checksum_is_refused_and_nothing_is_staged()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Path);
        await using var driver = Driver();
        var session = await driver.OpenAsync(_fleet.Hosts[3], Ct);
        var wrongSha = new string('0', 64);

        var e = await Assert.ThrowsAsync<HostStepException>(() => session.StageAsync(
            Bundle(artifact, "1.0.0-aaaaaaaaaa") with { ArtifactSha256 = wrongSha }, Ct));

        Assert.Contains("does not match sha256 " + wrongSha, e.Message);
        Assert.False(Directory.Exists(OnHost(3, "releases/1.0.0-aaaaaaaaaa")));
    }

    [Fact]
    public async Task Switching_back_and_forth_never_leaves_current_dangling()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Path);
        await using var driver = Driver();
        var session = await driver.OpenAsync(_fleet.Hosts[0], Ct);
        await session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa"), Ct);
        await session.StageAsync(Bundle(artifact, "1.1.0-aaaaaaaaaa"), Ct);
        await session.ActivateAsync(_deployPath, "1.0.0-aaaaaaaaaa", null, Ct);

        var current = OnHost(0, "current");
        using var stop = new CancellationTokenSource();
        long observations = 0, dangling = 0;
        var watcher = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref observations);
                if (!File.Exists(Path.Combine(current, "VERSION"))) dangling++;
            }
        });
        // At least 10 switches, and more until the watcher has looked often enough (a loaded machine may schedule it late).
        var last = "1.0.0-aaaaaaaaaa";
        for (var i = 0; i < 400 && (i < 10 || Interlocked.Read(ref observations) < 100); i++)
        {
            last = i % 2 == 0 ? "1.1.0-aaaaaaaaaa" : "1.0.0-aaaaaaaaaa";
            await session.ActivateAsync(_deployPath, last, null, Ct);
        }
        await stop.CancelAsync();
        await watcher;

        Assert.True(Interlocked.Read(ref observations) >= 100, $"the watcher looked only {observations} times");
        Assert.Equal(0, dangling);
        Assert.Equal($"releases/{last}", CurrentTarget(0));
        Assert.Empty(Directory.GetFileSystemEntries(OnHost(0, ""), ".current.tmp*"));
    }

    [Fact]
    public async Task Prune_keeps_current_and_previous_then_the_newest_up_to_keep_and_drops_unused_artifacts()
    {
        await using var driver = Driver();
        var session = await driver.OpenAsync(_fleet.Hosts[1], Ct);
        var ids = new[] { "1.0.0-aaaaaaaaaa", "1.1.0-aaaaaaaaaa", "1.2.0-aaaaaaaaaa", "1.3.0-aaaaaaaaaa", "1.4.0-aaaaaaaaaa" };
        var artifacts = ids.Select((id, i) => TestArtifact.WithRestartRecorder(_temp.Combine($"a{i}"), marker: id)).ToArray();
        for (var i = 0; i < ids.Length; i++)
        {
            await session.StageAsync(Bundle(artifacts[i], ids[i]), Ct);
            // Stage times must differ for "newest" to be defined; set them explicitly instead of sleeping.
            File.SetLastWriteTimeUtc(OnHost(1, $"releases/{ids[i]}/.reconciler-release"), DateTime.UtcNow.AddMinutes(i - 10));
        }
        await session.ActivateAsync(_deployPath, ids[1], null, Ct);

        // keep 3: current (ids[1]) and the protected previous (ids[0]) first, then the newest other (ids[4]).
        await session.PruneAsync(_deployPath, keep: 3, protect: [ids[0]], Ct);

        var left = await session.InspectAsync(_deployPath, Ct);
        Assert.Equal(ids[1], left.Current);
        Assert.Equal(new[] { ids[0], ids[1], ids[4] }, left.Releases.ToArray());
        var cachedArtifacts = Directory.GetFiles(OnHost(1, ".artifacts"), "*.tar.gz").Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(new[] { artifacts[0], artifacts[1], artifacts[4] }.Select(a => a.Sha256 + ".tar.gz").Order().ToArray(), cachedArtifacts);
    }

    [Fact]
    public async Task Hostile_config_and_host_values_land_literally_and_nothing_is_executed()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Path);
        var pwned = $"/srv/pwned-{Guid.NewGuid():N}";
        var hostile = new[] { $"$(touch {pwned}-1)", $"`touch {pwned}-2`", $"'; touch {pwned}-3; '", $"\"; touch {pwned}-4; \"\nline2" };
        var host = _fleet.Hosts[2] with { Vars = ImmutableSortedDictionary<string, string>.Empty.Add("evil", $"$(touch {pwned}-5)") };
        await using var driver = Driver();
        var session = await driver.OpenAsync(host, Ct);

        await session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa", hostile.Select((v, i) => ($"V{i}", v)).ToArray()), Ct);
        await session.ActivateAsync(_deployPath, "1.0.0-aaaaaaaaaa", "./bin/restart ${host.vars.evil}", Ct);
        var probe = await session.RunAsync(Interpolation.ExpandCommand("echo ${host.vars.evil}",
            Interpolation.Variables(host, "api", null, null)), TimeSpan.FromSeconds(10), Ct);

        for (var i = 1; i <= 5; i++) Assert.False(File.Exists(_fleet.OnHost(2, $"{pwned}-{i}")), $"hostile value {i} was executed");
        var json = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(OnHost(2, "current/config.json")))!;
        for (var i = 0; i < hostile.Length; i++) Assert.Equal(hostile[i], json[$"V{i}"]);
        // Sourcing .env gives back every value byte for byte.
        var sourced = await session.RunAsync(Shell.Script("cd \"$1\" && set -a && . ./.env && printf '%s|' \"$V0\" \"$V1\" \"$V2\" \"$V3\"",
            _deployPath + "/current"), TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(string.Join("", hostile.Select(v => v + "|")), sourced.Output);
        Assert.Equal($"api 1.0.0-aaaaaaaaaa app-3 $(touch {pwned}-5)\n", File.ReadAllText(OnHost(2, "restarted")));
        Assert.Equal($"$(touch {pwned}-5)\n", probe.Output);
    }

    [Theory]
    [InlineData("../etc", "1.0.0-aaaaaaaaaa")]
    [InlineData("/srv/../etc", "1.0.0-aaaaaaaaaa")]
    [InlineData("/srv/a;rm -rf /", "1.0.0-aaaaaaaaaa")]
    [InlineData("/srv/ok", "../../etc")]
    [InlineData("/srv/ok", "1.0.0-$(id)")]
    public async Task Unsafe_paths_and_release_ids_are_refused_before_anything_runs(string path, string id)
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Path);
        await using var driver = Driver();
        var session = await driver.OpenAsync(_fleet.Hosts[3], Ct);
        var e = await Assert.ThrowsAsync<HostStepException>(() => session.StageAsync(Bundle(artifact, id) with { DeployPath = path }, Ct));
        Assert.Contains("refusing unsafe", e.Message);
        Assert.Equal(0, driver.Uploads);
    }

    [Fact]
    public async Task Activating_a_release_that_is_not_staged_fails_and_leaves_current_alone()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Path);
        await using var driver = Driver();
        var session = await driver.OpenAsync(_fleet.Hosts[0], Ct);
        await session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa"), Ct);
        await session.ActivateAsync(_deployPath, "1.0.0-aaaaaaaaaa", null, Ct);

        var e = await Assert.ThrowsAsync<HostStepException>(() => session.ActivateAsync(_deployPath, "9.9.9-aaaaaaaaaa", null, Ct));

        Assert.Contains("not staged", e.Message);
        Assert.Equal("releases/1.0.0-aaaaaaaaaa", CurrentTarget(0));
    }

    [Fact]
    public async Task A_failing_restart_is_reported_with_its_output_and_an_unknown_variable_changes_nothing()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Path);
        await using var driver = Driver();
        var session = await driver.OpenAsync(_fleet.Hosts[1], Ct);
        await session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa"), Ct);

        var restart = await Assert.ThrowsAsync<HostStepException>(() =>
            session.ActivateAsync(_deployPath, "1.0.0-aaaaaaaaaa", "echo port in use >&2; exit 3", Ct));
        Assert.Equal("restart", restart.Step);
        Assert.Contains("exited 3", restart.Message);
        Assert.Contains("port in use", restart.Message);

        await session.StageAsync(Bundle(artifact, "1.1.0-aaaaaaaaaa"), Ct);
        var unknown = await Assert.ThrowsAsync<InterpolationException>(() =>
            session.ActivateAsync(_deployPath, "1.1.0-aaaaaaaaaa", "./bin/restart ${host.vars.nope}", Ct));
        Assert.Contains("unknown variable '${host.vars.nope}'", unknown.Message);
        Assert.Equal("releases/1.0.0-aaaaaaaaaa", CurrentTarget(1));
    }

    [Fact]
    public async Task Run_returns_exit_code_and_output_and_a_timeout_is_exit_124()
    {
        await using var driver = Driver();
        var session = await driver.OpenAsync(_fleet.Hosts[2], Ct);

        var ok = await session.RunAsync("echo out; echo err >&2; exit 7", TimeSpan.FromSeconds(10), Ct);
        var slow = await session.RunAsync("sleep 30", TimeSpan.FromMilliseconds(300), Ct);

        Assert.Equal(new CommandResult(7, "out\nerr\n"), ok);
        Assert.Equal(124, slow.ExitCode);
    }

    [Fact]
    public async Task Remove_runs_the_stop_command_and_drops_current_but_keeps_releases()
    {
        var artifact = TestArtifact.WithRestartRecorder(_temp.Path);
        await using var driver = Driver();
        var session = await driver.OpenAsync(_fleet.Hosts[3], Ct);
        await session.StageAsync(Bundle(artifact, "1.0.0-aaaaaaaaaa"), Ct);
        await session.ActivateAsync(_deployPath, "1.0.0-aaaaaaaaaa", null, Ct);

        await session.RemoveAsync(_deployPath, "./bin/stop", Ct);
        await session.RemoveAsync(_deployPath, "./bin/stop", Ct);

        Assert.Equal("stopped\n", File.ReadAllText(OnHost(3, "stopped")));
        Assert.False(File.Exists(OnHost(3, "current")) || Directory.Exists(OnHost(3, "current")));
        Assert.Equal(new HostReleases(null, ["1.0.0-aaaaaaaaaa"]), await session.InspectAsync(_deployPath, Ct), HostReleasesComparer.Instance);
    }

    [Fact]
    public async Task An_activation_after_a_stage_prunes_in_the_same_exec_channel_and_keeps_what_a_rollback_needs()
    {
        await using var driver = Driver();
        var session = await driver.OpenAsync(_fleet.Hosts[2], Ct);
        var ids = new[] { "1.0.0-aaaaaaaaaa", "1.1.0-aaaaaaaaaa", "1.2.0-aaaaaaaaaa", "1.3.0-aaaaaaaaaa", "1.4.0-aaaaaaaaaa" };
        for (var i = 0; i < ids.Length; i++)
        {
            await session.StageAsync(Bundle(TestArtifact.WithRestartRecorder(_temp.Combine($"a{i}"), marker: ids[i]), ids[i]), Ct);
            File.SetLastWriteTimeUtc(OnHost(2, $"releases/{ids[i]}/.reconciler-release"), DateTime.UtcNow.AddMinutes(i - 10));
        }
        await session.ActivateAsync(_deployPath, ids[0], null, Ct);
        var stagedLast = TestArtifact.WithRestartRecorder(_temp.Combine("a5"), marker: "1.5.0-aaaaaaaaaa");
        await session.StageAsync(Bundle(stagedLast, "1.5.0-aaaaaaaaaa"), Ct);
        var execs = ((SshHostSession)session).Execs;

        // keep 3: the new release, the one it replaces (ids[0]) and the newest other (ids[4]).
        var warning = await session.ActivateAndPruneAsync(_deployPath, "1.5.0-aaaaaaaaaa", "./bin/restart", keep: 3, protect: ["1.5.0-aaaaaaaaaa", ids[0]], Ct);

        Assert.Null(warning);
        Assert.Equal(1, ((SshHostSession)session).Execs - execs);
        var left = await session.InspectAsync(_deployPath, Ct);
        Assert.Equal("1.5.0-aaaaaaaaaa", left.Current);
        Assert.Equal(new[] { ids[0], ids[4], "1.5.0-aaaaaaaaaa" }, left.Releases.ToArray());
        Assert.StartsWith("api 1.5.0-aaaaaaaaaa", File.ReadAllText(OnHost(2, "restarted")));
    }

    [Fact]
    public async Task One_connection_per_host_is_reused_for_every_step()
    {
        await using var driver = Driver();
        var first = await driver.OpenAsync(_fleet.Hosts[0], Ct);
        var again = await driver.OpenAsync(_fleet.Hosts[0], Ct);
        Assert.Same(first, again);
    }

    [Fact]
    public async Task An_unknown_host_key_is_refused_with_its_fingerprint_and_accepted_loudly_when_trusted()
    {
        var unpinned = _fleet.Hosts[0] with { HostKey = null };
        var fingerprint = await FingerprintAsync(_fleet.HostPublicKeys[0]);

        await using (var strict = Driver())
        {
            var e = await Assert.ThrowsAsync<HostStepException>(() => strict.OpenAsync(unpinned, Ct));
            Assert.Contains("unknown host key " + fingerprint, e.Message);
            Assert.Contains("hostKey: \"" + _fleet.HostPublicKeys[0] + "\"", e.Message);
            Assert.Contains("--trust-unknown-host-keys", e.Message);
        }

        await using var trusting = Driver(trustUnknown: true);
        var session = await trusting.OpenAsync(unpinned, Ct);
        Assert.Equal(0, (await session.RunAsync("true", TimeSpan.FromSeconds(10), Ct)).ExitCode);
        Assert.Contains(_warnings, w => w.Contains("TRUSTING UNKNOWN HOST KEY of app-1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_different_key_is_refused_even_when_unknown_keys_are_trusted_and_a_fingerprint_pin_works()
    {
        var wrongPin = _fleet.Hosts[0] with { HostKey = _fleet.HostPublicKeys[1] };
        await using var driver = Driver(trustUnknown: true);
        var e = await Assert.ThrowsAsync<HostStepException>(() => driver.OpenAsync(wrongPin, Ct));
        Assert.Contains("HOST KEY MISMATCH", e.Message);
        Assert.Contains(await FingerprintAsync(_fleet.HostPublicKeys[0]), e.Message);

        var fingerprintPin = _fleet.Hosts[1] with { HostKey = await FingerprintAsync(_fleet.HostPublicKeys[1]) };
        await using var strict = Driver();
        var session = await strict.OpenAsync(fingerprintPin, Ct);
        Assert.Equal(0, (await session.RunAsync("true", TimeSpan.FromSeconds(10), Ct)).ExitCode);
    }

    [Fact]
    public async Task A_host_that_is_down_is_a_clear_error_naming_the_host()
    {
        await using var driver = Driver();
        var e = await Assert.ThrowsAsync<HostStepException>(() => driver.OpenAsync(SshdFleet.DownHost(), Ct));
        Assert.Equal("down-1", e.HostName);
        Assert.Matches(@"^down-1: connect failed: cannot connect to 127\.0\.0\.1:\d+: connection refused", e.Message);
    }

    [Fact]
    public async Task A_missing_private_key_is_a_user_error_naming_the_flag()
    {
        await using var driver = new SshHostDriver(new SshDriverOptions { PrivateKeyPath = _temp.Combine("nope") });
        var e = await Assert.ThrowsAsync<ReconcilerException>(() => driver.OpenAsync(_fleet.Hosts[0], Ct));
        Assert.Contains("--ssh-key", e.Message);
    }

    /// <summary>What `ssh-keygen -lf` prints, so the fingerprint check is not tested against itself.</summary>
    private async Task<string> FingerprintAsync(string publicKeyLine)
    {
        var file = _temp.Combine($"k{Guid.NewGuid():N}.pub");
        await File.WriteAllTextAsync(file, publicKeyLine + "\n");
        var psi = new ProcessStartInfo("ssh-keygen") { ArgumentList = { "-lf", file }, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        return output.Split(' ')[1];
    }
}

/// <summary>HostReleases holds an ImmutableArray, whose equality is by reference; compare by content.</summary>
internal sealed class HostReleasesComparer : IEqualityComparer<HostReleases>
{
    public static readonly HostReleasesComparer Instance = new();

    public bool Equals(HostReleases? x, HostReleases? y) =>
        x is not null && y is not null && x.Current == y.Current && x.Releases.SequenceEqual(y.Releases);

    public int GetHashCode(HostReleases obj) => obj.Current?.GetHashCode(StringComparison.Ordinal) ?? 0;
}
