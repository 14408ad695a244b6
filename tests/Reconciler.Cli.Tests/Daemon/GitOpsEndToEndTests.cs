using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using LibGit2Sharp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Reconciler.Cli;
using Reconciler.Drivers;
using Reconciler.Git;
using Reconciler.State;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Git;
using Xunit;

namespace Reconciler.Cli.Tests.Daemon;

/// <summary>
/// The GitOps loop with the real pieces: `reconciler run` (in-process) follows a real Git repo, loads commits with the
/// real loader, applies them with the real executor, local driver and SQLite store; health gates are real HTTP checks
/// against a server this test runs (it fails the health of version 2.0.0).
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class GitOpsEndToEndTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private WebApplication _health = null!;
    private int _healthPort;
    private GitTestRepo _repo = null!;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _notifications = new();

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        _health = builder.Build();
        _health.MapGet("/health/{version}", (string version) => version == "2.0.0" ? Results.StatusCode(500) : Results.Ok("healthy"));
        _health.MapPost("/hook", async (HttpRequest request) =>
        {
            using var body = await System.Text.Json.JsonDocument.ParseAsync(request.Body);
            _notifications.Enqueue(body.RootElement.GetProperty("text").GetString()!);
            return Results.Ok();
        });
        await _health.StartAsync();
        _healthPort = new Uri(_health.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        _repo = new GitTestRepo(_dir.Combine("infra"));
    }

    public async Task DisposeAsync()
    {
        _repo.Dispose();
        await _health.StopAsync();
        await _health.DisposeAsync();
        _dir.Dispose();
    }

    internal static byte[] Artifact()
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip))
        {
            var entry = new PaxTarEntry(TarEntryType.RegularFile, "README") { DataStream = new MemoryStream("api\n"u8.ToArray()) };
            tar.WriteEntry(entry);
        }
        return buffer.ToArray();
    }

    internal static (string Path, string? Content)[] InfraFiles(string artifactSha, int healthPort, string? hookUrl = null) =>
    [
        (".gitignore", ".reconciler/\n"),
        ("reconciler.yaml", """
            apiVersion: reconciler/v1
            kind: Repository
            state: sqlite:.reconciler/state.db
            defaults:
              keepReleases: 5
              onFailure: rollback
              strategy: { type: rolling, maxParallel: 1 }
              health: { interval: 100ms, consecutivePasses: 1, minHealthy: 100ms, deadline: 1500ms }
            """ + (hookUrl is null ? "" : $"\nnotifications:\n  - url: {hookUrl}\n    events: [start, success, failure, rollback]\n")),
        ("environments/test.yaml", """
            apiVersion: reconciler/v1
            kind: Environment
            name: test
            hostGroups:
              local:
                hosts:
                  - name: local-1
                    address: 127.0.0.1
                    user: deploy
            """),
        ("services/api.yaml", ApiYaml("1.0.0", artifactSha, healthPort)),
    ];

    internal static string ApiYaml(string version, string artifactSha, int healthPort) => $$"""
        apiVersion: reconciler/v1
        kind: Service
        name: api
        version: {{version}}
        artifact:
          url: artifacts/api.tar.gz
          sha256: {{artifactSha}}
        hostGroup: local
        deploy:
          driver: local
          path: /srv/api
        health:
          interval: 100ms
          consecutivePasses: 1
          minHealthy: 100ms
          deadline: 1500ms
          checks:
            - http: { url: "http://127.0.0.1:{{healthPort}}/health/${version}", expectStatus: 200, timeout: 1s }
        config:
          GREETING: hello
        """;

    /// <summary>Writes and stages the artifact; returns its sha256.</summary>
    private string WriteArtifact()
    {
        var bytes = Artifact();   // tar entries carry the current time: build once, hash what was written
        Directory.CreateDirectory(Path.Combine(_repo.Path, "artifacts"));
        File.WriteAllBytes(Path.Combine(_repo.Path, "artifacts", "api.tar.gz"), bytes);
        Commands.Stage(_repo.Repo, "artifacts/api.tar.gz");
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    [Fact]
    public async Task Deploys_A_rolls_back_and_quarantines_B_without_retrying_applies_the_revert_and_a_revert_is_a_symlink_flip()
    {
        var sha = WriteArtifact();
        var a = _repo.Commit("api 1.0.0", InfraFiles(sha, _healthPort, $"http://127.0.0.1:{_healthPort}/hook"));

        var log = new SynchronizedLog();
        using var stop = new CancellationTokenSource();
        var run = RunCommand.RunAsync(new RunCommand.RunSettings("test", _repo.Path, "main", TimeSpan.FromMilliseconds(200), StatusListen, null, null, null, false), log, stop.Token);
        try
        {
            await using var store = StateStores.Open("sqlite:.reconciler/state.db", _repo.Path, TimeProvider.System);
            async Task<IReadOnlyList<HistoryEntry>> History() => await store.ReadHistoryAsync("test", 10, CancellationToken.None);

            // A deploys.
            await Until(async () => (await History()).Count == 1, "A applied", run, log);
            Assert.True((await History())[0].Result == ApplyResult.Succeeded, $"{(await History())[0].Message}\n{log}");
            var current = Path.Combine(_repo.Path, ".reconciler", "local", "local-1", "srv", "api", "current");
            var releaseOfA = new DirectoryInfo(current).LinkTarget;
            Assert.NotNull(releaseOfA);

            // B fails its health gate: rolled back and quarantined.
            var b = _repo.Commit("api 2.0.0", ("services/api.yaml", ApiYaml("2.0.0", sha, _healthPort)));
            await Until(async () => (await History()).Count == 2, "B rolled back", run, log);
            Assert.Equal(ApplyResult.RolledBack, (await History())[0].Result);
            Assert.Contains((await store.ReadQuarantineAsync("test", CancellationToken.None)), q => q.Commit == b.Sha);
            Assert.Equal(releaseOfA, new DirectoryInfo(current).LinkTarget);

            // Not retried over several intervals (200 ms each): the loop fetched B as the head again and again.
            await LoopFetches(5, run, log);
            Assert.Equal(1, log.Count($"applying {b.Sha[..12]}"));
            Assert.Equal(2, (await History()).Count);

            // The revert is the next commit; it is applied normally. Live already runs A's release (the rollback), so
            // the revert brings Git back in line and the apply has nothing to change.
            var revert = GitRevert.Revert(_repo.Path, b.Sha, null, null, DateTimeOffset.Now);
            await Until(() => Task.FromResult(log.Count($"apply of {revert.NewSha[..12]}: no-changes") == 1), "revert applied", run, log);
            Assert.Equal(releaseOfA, new DirectoryInfo(current).LinkTarget);
            var live = await store.ReadAsync("test", CancellationToken.None);
            Assert.Equal("1.0.0", live.Services["api"].Version);
            // History names the revert as what runs now, and the revert is the last good commit.
            await Until(async () => (await History()).Count == 3, "revert recorded", run, log);
            Assert.Equal([revert.NewSha, b.Sha, a.Sha], (await History()).Select(h => h.Commit));
            Assert.Equal([ApplyResult.NoChanges, ApplyResult.RolledBack, ApplyResult.Succeeded], (await History()).Select(h => h.Result));
            Assert.Equal(revert.NewSha, (await store.ReadAsync("test", CancellationToken.None)).LastGoodCommit);

            // The log tells the story in order: A applied, B applied and rolled back, revert applied; B never again.
            var text = log.ToString();
            int At(string s) => text.IndexOf(s, StringComparison.Ordinal);
            Assert.True(At($"applying {a.Sha[..12]}") < At($"apply of {a.Sha[..12]}: succeeded"));
            Assert.True(At($"apply of {a.Sha[..12]}: succeeded") < At($"apply of {b.Sha[..12]}: rolled-back"));
            Assert.True(At($"apply of {b.Sha[..12]}: rolled-back") < At($"apply of {revert.NewSha[..12]}: no-changes"));

            // Revert of a commit that deployed fine: its plan is a downgrade, and apply flips `current` back to the old
            // release still on the host. A file only this test put there survives: the release was reused, not
            // unpacked again from the artifact (the driver only rewrites its config files).
            var sentinel = Path.Combine(Path.GetDirectoryName(current)!, releaseOfA!, "sentinel-from-test");
            File.WriteAllText(sentinel, "still here");
            var d = _repo.Commit("api 1.1.0", ("services/api.yaml", ApiYaml("1.1.0", sha, _healthPort)));
            await Until(async () => (await History()).Count == 4, "D applied", run, log);
            Assert.NotEqual(releaseOfA, new DirectoryInfo(current).LinkTarget);
            var revertD = GitRevert.Revert(_repo.Path, d.Sha, null, null, DateTimeOffset.Now);
            await Until(async () => (await History()).Count == 5, "revert of D applied", run, log);
            Assert.Equal(releaseOfA, new DirectoryInfo(current).LinkTarget);
            Assert.True(File.Exists(sentinel), "the old release was unpacked again instead of reused");

            // History: every commit that became live, newest first.
            var history = await History();
            Assert.Equal([revertD.NewSha, d.Sha, revert.NewSha, b.Sha, a.Sha], history.Select(h => h.Commit));
            Assert.Equal([ApplyResult.Succeeded, ApplyResult.Succeeded, ApplyResult.NoChanges, ApplyResult.RolledBack, ApplyResult.Succeeded],
                history.Select(h => h.Result));
            Assert.Contains("1.1.0 -> 1.0.0", history[0].ServiceOutcomes["api"]);
            Assert.Equal("rolled back", history[3].ServiceOutcomes["api"]);
            Assert.Equal(1, log.Count($"applying {b.Sha[..12]}"));   // B was never tried again

            // Notifications (Slack-compatible POSTs to the hook in reconciler.yaml), in order; sent in the background.
            string[] expected =
            [
                $"{a.Sha[..12]} to test started", $"{a.Sha[..12]} to test succeeded",
                $"{b.Sha[..12]} to test started", $"{b.Sha[..12]} to test rolled back",
                $"{d.Sha[..12]} to test started", $"{d.Sha[..12]} to test succeeded",
                $"{revertD.NewSha[..12]} to test started", $"{revertD.NewSha[..12]} to test succeeded",
            ];
            await Until(() => Task.FromResult(_notifications.Count >= expected.Length), "notifications", run, log);
            Assert.Equal(expected, _notifications.Select(n => n.Replace("reconciler: apply of ", "", StringComparison.Ordinal)));
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(ExitCodes.Ok, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        }
    }

    [Fact]
    public async Task A_frozen_environment_is_not_applied_by_run_until_the_freeze_is_lifted()
    {
        var sha = WriteArtifact();
        var a = _repo.Commit("api 1.0.0", InfraFiles(sha, _healthPort));
        await using (var store = StateStores.Open("sqlite:.reconciler/state.db", _repo.Path, TimeProvider.System))
            await store.SetFreezeAsync("test", new FreezeInfo("release freeze", "alice", DateTimeOffset.UtcNow), CancellationToken.None);

        var log = new SynchronizedLog();
        using var stop = new CancellationTokenSource();
        var run = RunCommand.RunAsync(new RunCommand.RunSettings("test", _repo.Path, "main", TimeSpan.FromMilliseconds(200), StatusListen, null, null, null, false), log, stop.Token);
        try
        {
            await using var store = StateStores.Open("sqlite:.reconciler/state.db", _repo.Path, TimeProvider.System);
            await Until(() => Task.FromResult(log.Count("frozen") >= 1), "the freeze refusal", run, log);
            await LoopAttempts(3, run, log);   // refused again at later intervals
            var last = (await Status(run, log)).GetProperty("lastResult");
            Assert.Equal("retrying", last.GetProperty("result").GetString());
            Assert.Equal("locked-or-frozen", last.GetProperty("failure").GetString());
            Assert.Empty(await store.ReadHistoryAsync("test", 10, CancellationToken.None));
            Assert.Equal(1, log.Count("release freeze"));   // retried every interval, reported once

            await store.SetFreezeAsync("test", null, CancellationToken.None);
            await Until(async () => (await store.ReadHistoryAsync("test", 10, CancellationToken.None)).Count == 1, "applied after the freeze", run, log);
            Assert.Equal(a.Sha, (await store.ReadHistoryAsync("test", 1, CancellationToken.None))[0].Commit);
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(ExitCodes.Ok, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        }
    }

    // ---- what the loop did, from its /status (no sleeping to show that something did not happen) --------------

    /// <summary>--listen on a free port: the daemon's /status shows each fetch and each attempt as it happens.</summary>
    private static readonly System.Net.IPEndPoint StatusListen = new(System.Net.IPAddress.Loopback, 0);

    private static readonly HttpClient StatusHttp = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>The environment's entry of /status; the address is the one `run` logs when it starts listening.</summary>
    private static async Task<System.Text.Json.JsonElement> Status(Task<int> run, SynchronizedLog log)
    {
        await Until(() => Task.FromResult(log.ToString().Contains("listening on ", StringComparison.Ordinal)), "the status server", run, log);
        var address = System.Text.RegularExpressions.Regex.Match(log.ToString(), @"listening on (\S+) \(").Groups[1].Value;
        using var body = System.Text.Json.JsonDocument.Parse(await StatusHttp.GetStringAsync(new Uri(new Uri(address), "/status")));
        return body.RootElement.GetProperty("environments")[0].Clone();
    }

    /// <summary>Waits until the loop fetched <paramref name="n"/> more times: each fetch after the first followed a full
    /// turn of the loop with the head it found, so whatever the loop would do with that head, it has had the chance to.</summary>
    private static Task LoopFetches(int n, Task<int> run, SynchronizedLog log) =>
        Changes(n, e => e.GetProperty("lastFetch").GetString(), "fetches", run, log);

    /// <summary>Waits until the loop finished <paramref name="n"/> more attempts (each sets a new last result).</summary>
    private static Task LoopAttempts(int n, Task<int> run, SynchronizedLog log) =>
        Changes(n, e => e.TryGetProperty("lastResult", out var r) ? r.GetProperty("finished").GetString() : null, "attempts", run, log);

    private static async Task Changes(int n, Func<System.Text.Json.JsonElement, string?> read, string what, Task<int> run, SynchronizedLog log)
    {
        var last = read(await Status(run, log));
        var changes = 0;
        await Until(async () =>
        {
            var now = read(await Status(run, log));
            if (now != last) (changes, last) = (changes + 1, now);
            return changes >= n;
        }, $"{n} more {what} of the loop", run, log);
    }

    private static async Task Until(Func<Task<bool>> condition, string what, Task<int> run, SynchronizedLog log)
    {
        var deadline = Environment.TickCount64 + 30_000;
        while (!await condition())
        {
            if (run.IsCompleted) throw new Xunit.Sdk.XunitException($"run ended early (exit {await run}) waiting for {what}:\n{log}");
            if (Environment.TickCount64 > deadline) throw new TimeoutException($"timed out waiting for {what}:\n{log}");
            await Task.Delay(20);
        }
    }
}

/// <summary>A log the daemon writes from several threads and the test reads while it runs.</summary>
internal sealed class SynchronizedLog : StringWriter
{
    private readonly object _gate = new();
    public override void Write(char value) { lock (_gate) base.Write(value); }
    public override void Write(string? value) { lock (_gate) base.Write(value); }
    public override void WriteLine(string? value) { lock (_gate) base.WriteLine(value); }
    public override string ToString() { lock (_gate) return base.ToString(); }

    public int Count(string needle)
    {
        var text = ToString();
        var n = 0;
        for (var i = text.IndexOf(needle, StringComparison.Ordinal); i >= 0; i = text.IndexOf(needle, i + needle.Length, StringComparison.Ordinal)) n++;
        return n;
    }
}
