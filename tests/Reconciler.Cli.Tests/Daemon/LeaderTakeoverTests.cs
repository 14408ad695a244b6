using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;
using LibGit2Sharp;
using Reconciler.Engine.Tests.Infrastructure;
using Reconciler.Engine.Tests.State;
using Reconciler.State;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Git;
using Xunit;

namespace Reconciler.Cli.Tests.Daemon;

/// <summary>
/// Issue 14: three `reconciler run` processes (the built CLI) share a Consul store (the in-process test server, or the
/// real agent CONSUL_HTTP_ADDR names) and two real sshd hosts. One leads; /status on every instance names it. The leader
/// is killed (SIGKILL) while its apply waits in the health gate; a standby takes over within 2 x TTL + lock-delay (Consul
/// invalidates an unrenewed session between TTL and twice the TTL, then holds the lock for its lock-delay), resumes the
/// apply from the journal, and finishes it: every host ran each hook and the restart exactly once, and the history holds
/// one apply, taken over.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Runs", "Executable")]
[Trait("Category", "EndToEnd")]
public sealed class LeaderTakeoverTests : IAsyncLifetime
{
    private static readonly TimeSpan LeaderTtl = TimeSpan.FromSeconds(10);   // Consul's minimum session TTL
    private static readonly TimeSpan LockDelay = TimeSpan.FromSeconds(5);   // the Consul store's default
    private readonly TempDir _dir = new();
    private readonly string _root = $"/srv/l-{Guid.NewGuid():N}"[..20];
    private readonly List<Daemon> _daemons = [];
    private SshdFleet _fleet = null!;
    private ConsulTestServer? _consul;
    private string _stateUrl = null!;

    public async Task InitializeAsync()
    {
        _fleet = await SshdFleet.StartAsync(2, "web");
        var prefix = $"takeover-{Guid.NewGuid():N}"[..20];
        if (Environment.GetEnvironmentVariable("CONSUL_HTTP_ADDR") is { Length: > 0 })
        {
            _stateUrl = "consul:///" + prefix;   // the agent CONSUL_HTTP_ADDR names, with every CONSUL_* option
        }
        else
        {
            _consul = await ConsulTestServer.StartAsync(TimeProvider.System);
            _stateUrl = $"consul://127.0.0.1:{_consul.Address.Port}/{prefix}";
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var d in _daemons) await d.DisposeAsync();
        if (_consul is not null) await _consul.DisposeAsync();
        await _fleet.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task Three_daemons_elect_one_leader_and_a_standby_resumes_the_apply_of_a_killed_leader()
    {
        using var repo = new GitTestRepo(_dir.Combine("infra"));
        var (files, release) = InfraFiles(repo);
        var commit = repo.Commit("api 1.0.0", files);

        logs = () => string.Join("\n", _daemons.Select((d, i) => $"--- daemon {i}:\n{d.Log}"));
        for (var i = 0; i < 3; i++) _daemons.Add(Daemon.Start(_dir.Combine($"daemon-{i}"), repo.Path, _stateUrl, _fleet.ClientKeyPath));
        foreach (var d in _daemons) await d.WaitForListenAsync();

        // One leader; every instance's /status names the same one.
        var leader = await Until(async () =>
        {
            var seen = await Task.WhenAll(_daemons.Select(d => d.LeaderAsync()));
            return seen.All(s => s.Instance is not null && s.Instance == seen[0].Instance) && seen.Count(s => s.ThisInstance) == 1
                ? _daemons[Array.FindIndex(seen, s => s.ThisInstance)] : null;
        }, "one leader named by every instance", TimeSpan.FromSeconds(60));
        var standbys = _daemons.Where(d => d != leader).ToList();

        // The leader applies and waits in the health gate (the check needs a file that is not there yet).
        await Until(async () => await leader.LastStepAsync() == "gate" ? true : (bool?)null, "the leader's apply in its health gate", TimeSpan.FromSeconds(90));
        for (var i = 0; i < 2; i++) Assert.Equal("releases/" + release, Current(i));

        leader.Kill();
        var killedAt = Stopwatch.StartNew();
        for (var i = 0; i < 2; i++) File.WriteAllText(_fleet.OnHost(i, $"{_root}/api/go"), "");

        var successor = await Until(async () =>
        {
            var seen = await Task.WhenAll(standbys.Select(d => d.LeaderAsync()));
            return seen.Any(s => s.ThisInstance) ? standbys[Array.FindIndex(seen, s => s.ThisInstance)] : null;
        }, "a standby leading", TimeSpan.FromSeconds(90));
        var takeover = killedAt.Elapsed;
        // Consul: invalidated between TTL and 2 x TTL, then the lock-delay; a few seconds of polling and load on top.
        Assert.True(takeover < 2 * LeaderTtl + LockDelay + TimeSpan.FromSeconds(10), $"takeover took {takeover}");

        await using var store = StateStores.Open(_stateUrl, _dir.Path, TimeProvider.System);
        var history = await Until(async () =>
        {
            var entries = await store.ReadHistoryAsync("test", 10, CancellationToken.None);
            return entries.Count > 0 ? entries : null;
        }, "the apply in the history", TimeSpan.FromSeconds(90));

        // One apply, finished by the successor, which says it took the interrupted apply over.
        var entry = Assert.Single(history);
        Assert.Equal(commit.Sha, entry.Commit);
        Assert.True(entry.Result == ApplyResult.Succeeded, $"{entry.Result}: {entry.Message}\n{successor.Log}");
        Assert.StartsWith("resumed from the journal of apply", entry.Message);
        // The successor releases the apply lock once the history is written.
        await Until(async () => await store.ReadLockAsync("test", CancellationToken.None) is null ? true : (bool?)null, "the apply lock released", TimeSpan.FromSeconds(30));
        // The hosts converged, and no step ran twice: one beforeSwitch, restart, afterSwitch and afterGate per host.
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal("releases/" + release, Current(i));
            Assert.Equal(["beforeSwitch", "restart", "afterSwitch", "afterGate"], File.ReadAllLines(_fleet.OnHost(i, $"{_root}/api/log")));
        }
        // Both surviving instances name the successor; the killed one is not it.
        foreach (var d in standbys)
        {
            var seen = await d.LeaderAsync();
            Assert.Equal(successor.Instance, seen.Instance);
            Assert.Equal(d == successor, seen.ThisInstance);
        }
        Assert.NotEqual(leader.Instance, successor.Instance);
        Assert.Contains("leading", successor.Log);
    }

    private string? Current(int host) => new FileInfo(_fleet.OnHost(host, $"{_root}/api/current")).LinkTarget;

    private static Func<string>? logs;

    private static async Task<T> Until<T>(Func<Task<T?>> probe, string what, TimeSpan timeout) where T : class
    {
        var clock = Stopwatch.StartNew();
        string? last = null;
        while (true)
        {
            try
            {
                if (await probe() is { } value) return value;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e.Message;
            }
            if (clock.Elapsed > timeout) throw new TimeoutException($"timed out after {timeout} waiting for: {what} (last error: {last})\n{logs?.Invoke()}");
            await Task.Delay(200);
        }
    }

    private static async Task<bool> Until(Func<Task<bool?>> probe, string what, TimeSpan timeout) =>
        (await Until<object>(async () => await probe() is true ? (object)true : null, what, timeout)) is true;

    /// <summary>The infra repo: two sshd hosts with pinned keys, one service whose hooks and restart log to the host and
    /// whose gate waits for a file the test writes. Returns the files and the release id the hosts must end on.</summary>
    private ((string Path, string? Content)[] Files, string Release) InfraFiles(GitTestRepo repo)
    {
        var artifact = Artifact();
        Directory.CreateDirectory(Path.Combine(repo.Path, "artifacts"));
        File.WriteAllBytes(Path.Combine(repo.Path, "artifacts", "api.tar.gz"), artifact);
        Commands.Stage(repo.Repo, "artifacts/api.tar.gz");
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(artifact));
        var hosts = string.Concat(_fleet.Hosts.Select(h => $$"""

                  - name: {{h.Name}}
                    address: {{h.Address}}
                    port: {{h.Port}}
                    user: {{h.User}}
                    hostKey: "{{h.HostKey}}"
            """));
        var service = $$"""
            apiVersion: reconciler/v1
            kind: Service
            name: api
            version: 1.0.0
            artifact: { url: artifacts/api.tar.gz, sha256: {{sha}} }
            hostGroup: web
            deploy:
              driver: ssh
              path: {{_root}}/api
              restartCommand: ./bin/restart
              hooks:
                beforeSwitch: echo beforeSwitch >> ${deploy.path}/log
                afterSwitch: echo afterSwitch >> ${deploy.path}/log
                afterGate: echo afterGate >> ${deploy.path}/log
            strategy: { type: rolling, maxParallel: 100% }
            health:
              interval: 200ms
              consecutivePasses: 1
              minHealthy: 200ms
              deadline: 180s
              checks:
                - command: { run: "test -f ${deploy.path}/go", timeout: 5s }
            """;
        (string, string?)[] files =
        [
            (".gitignore", ".reconciler/\n"),
            ("reconciler.yaml", "apiVersion: reconciler/v1\nkind: Repository\n"),
            ("environments/test.yaml", "apiVersion: reconciler/v1\nkind: Environment\nname: test\nhostGroups:\n  web:\n    hosts:" + hosts + "\n"),
            ("services/api.yaml", service),
        ];
        var model = RepoLoaderForTest(files);
        return (files, Diff.Planning.ServiceFields.ReleaseId(model));
    }

    /// <summary>The service as the daemon will read it, for its release id.</summary>
    private static Schema.Model.ServiceSpec RepoLoaderForTest((string Path, string? Content)[] files)
    {
        var source = new Schema.Loading.InMemoryRepoSource(files.ToDictionary(f => f.Path, f => System.Text.Encoding.UTF8.GetBytes(f.Content!), StringComparer.Ordinal));
        var loaded = Schema.Loading.RepoLoader.Load(source);
        Assert.True(loaded.Model is not null, string.Join("\n", loaded.Diagnostics));
        return Schema.Model.DesiredStateBuilder.Build(loaded.Model, "test").Services["api"];
    }

    /// <summary>A release whose restart appends "restart" to the deploy path's log.</summary>
    private static byte[] Artifact()
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "bin/restart")
            {
                Mode = (UnixFileMode)0b111_101_101,
                DataStream = new MemoryStream("#!/bin/sh\necho restart >> \"$RECONCILER_DEPLOY_PATH/log\"\n"u8.ToArray()),
            });
        }
        return buffer.ToArray();
    }

    /// <summary>One `reconciler run` child process with its own working directory (its clone of the repo, its caches).</summary>
    private sealed class Daemon : IAsyncDisposable
    {
        private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
        private readonly Process _process;
        private readonly SynchronizedLog _log = new();
        private Uri? _address;

        private Daemon(Process process) => _process = process;

        public string Log => _log.ToString();

        public string Instance => $"daemon@{Environment.MachineName} pid {_process.Id}";

        public static Daemon Start(string directory, string repo, string stateUrl, string sshKey)
        {
            Directory.CreateDirectory(directory);
            var psi = ChildProcess.ReconcilerStartInfo(["run", "--env", "test", "--repo", new Uri(repo).AbsoluteUri,
                "--state", stateUrl, "--interval", "500ms", "--listen", "127.0.0.1:0", "--ssh-key", sshKey, "--leader-ttl", "10s"]);
            psi.RedirectStandardInput = false;
            psi.WorkingDirectory = directory;
            psi.Environment.Remove("RECONCILER_STATE");
            psi.Environment.Remove("RECONCILER_WEBHOOK_SECRET");
            var daemon = new Daemon(Process.Start(psi)!);
            daemon._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) daemon._log.WriteLine(e.Data); };
            daemon._process.OutputDataReceived += (_, e) => { if (e.Data is not null) daemon._log.WriteLine(e.Data); };
            daemon._process.BeginErrorReadLine();
            daemon._process.BeginOutputReadLine();
            return daemon;
        }

        public async Task WaitForListenAsync()
        {
            _address = await Until(() => Task.FromResult(_process.HasExited ? throw new InvalidOperationException("the daemon exited:\n" + Log)
                : Regex.Match(Log, @"listening on (http://127\.0\.0\.1:\d+/)") is { Success: true } m ? new Uri(m.Groups[1].Value) : null),
                "the daemon listening", TimeSpan.FromSeconds(60));
        }

        private async Task<JsonElement> EnvironmentStatusAsync()
        {
            using var status = JsonDocument.Parse(await Http.GetStringAsync(new Uri(_address!, "/status")));
            return status.RootElement.GetProperty("environments")[0].Clone();
        }

        public async Task<(string? Instance, bool ThisInstance)> LeaderAsync()
        {
            var leader = (await EnvironmentStatusAsync()).GetProperty("leader");
            // Nobody leads (the lock-delay after a leader died): "instance" is left out, like every null.
            return (leader.TryGetProperty("instance", out var instance) ? instance.GetString() : null, leader.GetProperty("thisInstance").GetBoolean());
        }

        public async Task<string?> LastStepAsync() =>
            (await EnvironmentStatusAsync()).TryGetProperty("inFlight", out var f) && f.ValueKind == JsonValueKind.Object
            && f.TryGetProperty("lastProgress", out var p) && p.ValueKind == JsonValueKind.Object
                ? p.GetProperty("step").GetString() : null;

        /// <summary>SIGKILL: no safe point, no resign, no lock release.</summary>
        public void Kill() => _process.Kill();

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                    await term.WaitForExitAsync();
                using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try
                {
                    await _process.WaitForExitAsync(bound.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
            _process.Dispose();
        }
    }
}
