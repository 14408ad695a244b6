using System.Collections.Immutable;
using Microsoft.Extensions.Time.Testing;
using Reconciler.Cli;
using Reconciler.Diff.Live;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Cli.Tests.State;

/// <summary>`reconciler state ...` in process: rendered output against golden files, exit codes, and errors.</summary>
public sealed class StateCommandTests : IDisposable
{
    private readonly TempDir _dir = new();
    private string DbPath => _dir.Combine("state.db");
    private string Url => "sqlite:" + DbPath;

    public void Dispose() => _dir.Dispose();

    private async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await CliApp.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString().Replace(DbPath, "<state.db>"), stderr.ToString().Replace(DbPath, "<state.db>"));
    }

    /// <summary>A populated store. The lock is taken "in 2099" so that it is still held when the CLI reads it with the real clock.</summary>
    private async Task Populate()
    {
        var at = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
        await using var store = new SqliteStateStore(DbPath, new FakeTimeProvider(new DateTimeOffset(2099, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        var ct = CancellationToken.None;
        await store.WriteAsync("prod", 0, new StateChange(
            [StateStoreContract.Service("api", "1.5.0", "web-1", "web-2"), StateStoreContract.Service("worker", "0.9.1", "job-1")], [],
            [new LiveToggle("new-checkout", true, "c0ffee150"), new LiveToggle("dark-mode", false, "c0ffee091")], [], "c0ffee150"), ct);
        await store.QuarantineAsync("prod", new QuarantinedCommit("bad0c0ffee1234", "health gate http://web-1:8080/healthz failed 3 times", at.AddMinutes(-30)), ct);
        await store.SetFreezeAsync("prod", new FreezeInfo("end-of-quarter freeze", "alice", at.AddMinutes(-5)), ct);
        await store.TryAcquireLockAsync("prod", "ci@runner-7", "apply c0ffee150", TimeSpan.FromHours(1), ct);
        await store.AppendHistoryAsync(new HistoryEntry("h-0001", "prod", "bad0c0ffee1234", "Bob <bob@example.com>", "ci@runner-7", at.AddMinutes(-31), at.AddMinutes(-30),
            ApplyResult.RolledBack, ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal,
                [KeyValuePair.Create("api", "rolled back 1.5.1 -> 1.5.0")]), "health gate failed on web-1; revert bad0c0ffee12"), ct);
        await store.AppendHistoryAsync(new HistoryEntry("h-0002", "prod", "c0ffee150", "Ada <ada@example.com>", "ci@runner-7", at.AddMinutes(-10), at.AddMinutes(-8).AddSeconds(-12.5),
            ApplyResult.Succeeded, ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal,
                [KeyValuePair.Create("api", "upgraded 1.4.2 -> 1.5.0"), KeyValuePair.Create("worker", "reconfigured")]), null), ct);
    }

    [Fact]
    public async Task Show_renders_text_and_json()
    {
        await Populate();
        var text = await Run("state", "show", "--env", "prod", "--state", Url);
        Assert.Equal(ExitCodes.Ok, text.Code);
        Golden.Match(text.Out, "state-show.txt");
        var json = await Run("state", "show", "--env", "prod", "--state", Url, "--format", "json");
        Assert.Equal(ExitCodes.Ok, json.Code);
        Golden.Match(json.Out, "state-show.json");
    }

    [Fact]
    public async Task History_renders_text_and_json_newest_first()
    {
        await Populate();
        var text = await Run("state", "history", "--env", "prod", "--state", Url);
        Assert.Equal(ExitCodes.Ok, text.Code);
        Golden.Match(text.Out, "state-history.txt");
        var json = await Run("state", "history", "--env", "prod", "--state", Url, "--format", "json", "--limit", "1");
        Assert.Equal(ExitCodes.Ok, json.Code);
        Golden.Match(json.Out, "state-history-limit-1.json");
        Assert.Equal("no deploys recorded for staging\n", (await Run("state", "history", "--env", "staging", "--state", Url)).Out);
    }

    [Fact]
    public async Task Lock_unlock_freeze_and_unfreeze()
    {
        var locked = await Run("state", "lock", "--env", "staging", "--reason", "load test", "--owner", "alice", "--ttl", "30m", "--state", Url);
        Assert.Equal(ExitCodes.Ok, locked.Code);
        Assert.StartsWith("locked environment 'staging' for alice until ", locked.Out);

        var refused = await Run("state", "lock", "--env", "staging", "--reason", "deploy", "--owner", "bob", "--state", Url);
        Assert.Equal(ExitCodes.LockedOrFrozen, refused.Code);
        Assert.Contains("error: environment 'staging' is locked by alice since ", refused.Err);
        Assert.Contains("load test", refused.Err);

        var notYours = await Run("state", "unlock", "--env", "staging", "--owner", "bob", "--state", Url);
        Assert.Equal(ExitCodes.LockedOrFrozen, notYours.Code);
        Assert.Contains("locked by alice, not by bob", notYours.Err);

        var forced = await Run("state", "unlock", "--env", "staging", "--owner", "bob", "--force", "--state", Url, "--format", "json");
        Assert.Equal(ExitCodes.Ok, forced.Code);
        Assert.Equal("{\n  \"environment\": \"staging\",\n  \"released\": true,\n  \"heldBy\": \"alice\"\n}\n", forced.Out);
        Assert.Equal("environment 'staging' is not locked\n", (await Run("state", "unlock", "--env", "staging", "--state", Url)).Out);

        var frozen = await Run("state", "freeze", "--env", "staging", "--reason", "incident 4711", "--by", "carol", "--state", Url);
        Assert.Equal("froze environment 'staging': incident 4711\n", frozen.Out);
        await using (var store = new SqliteStateStore(DbPath, TimeProvider.System))
            Assert.Equal("carol", (await store.ReadFreezeAsync("staging", CancellationToken.None))!.By);
        Assert.Equal("unfroze environment 'staging' (was frozen by carol: incident 4711)\n", (await Run("state", "unfreeze", "--env", "staging", "--state", Url)).Out);
        Assert.Equal("environment 'staging' was not frozen\n", (await Run("state", "unfreeze", "--env", "staging", "--state", Url)).Out);
    }

    [Theory]
    [InlineData("--ttl", "forever", "--ttl 'forever' is not a duration")]
    [InlineData("--ttl", "48h", "longer than 24h")]
    [InlineData("--env", "../prod", "invalid environment name '../prod'")]
    [InlineData("--state", "redis://x/y", "invalid state store 'redis://x/y': unknown scheme 'redis'. Accepted: sqlite:PATH")]
    [InlineData("--state", "consul://127.0.0.1:8500", "a key prefix is required")]
    public async Task Bad_input_is_a_one_line_error_with_exit_code_1(string option, string value, string message)
    {
        var args = new List<string> { "state", "lock", "--reason", "r", "--ttl", "1h", "--state", Url, "--env", "prod" };
        var at = args.IndexOf(option);
        args[at + 1] = value;
        var r = await Run([.. args]);
        Assert.Equal(ExitCodes.Error, r.Code);
        Assert.Contains(message, r.Err);
        Assert.StartsWith("error: ", r.Err);
        Assert.Single(r.Err.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task A_corrupt_state_file_is_exit_code_7_and_the_file_is_untouched()
    {
        await File.WriteAllTextAsync(DbPath, "{ \"this\": \"is json, not sqlite\" }");
        var r = await Run("state", "lock", "--env", "prod", "--reason", "r", "--state", Url);
        Assert.Equal(ExitCodes.StoreUnavailable, r.Code);
        Assert.Equal("error: sqlite:<state.db> is not a SQLite database (corrupt, or some other file). Nothing was written. Restore it from a backup, " +
                     "or move it aside to start from empty live state (the next apply then redeploys every service).\n", r.Err);
        Assert.Equal("{ \"this\": \"is json, not sqlite\" }", await File.ReadAllTextAsync(DbPath));
    }

    [Fact]
    public async Task An_unreachable_consul_is_exit_code_7()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        var port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var r = await Run("state", "show", "--env", "prod", "--state", $"consul://127.0.0.1:{port}/reconciler");
        Assert.Equal(ExitCodes.StoreUnavailable, r.Code);
        Assert.Contains($"cannot reach Consul at http://127.0.0.1:{port} (connection refused)", r.Err);
    }

    [Fact]
    public void Ttl_parsing_accepts_seconds_minutes_hours()
    {
        Assert.Equal(TimeSpan.FromSeconds(90), StateCommand.ParseTtl("90s"));
        Assert.Equal(TimeSpan.FromMinutes(30), StateCommand.ParseTtl("30m"));
        Assert.Equal(TimeSpan.FromHours(24), StateCommand.ParseTtl("24h"));
        Assert.Throws<UserError>(() => StateCommand.ParseTtl("0s"));
        Assert.Throws<UserError>(() => StateCommand.ParseTtl("-5m"));
    }
}
