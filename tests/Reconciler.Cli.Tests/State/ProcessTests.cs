using Microsoft.Extensions.Time.Testing;
using Reconciler.Cli;
using Reconciler.Consul;
using Reconciler.State;
using Reconciler.State.Consul;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Cli.Tests.State;

/// <summary>
/// Real processes against one store: two `reconciler state lock` processes at once, a holder that exits without
/// unlocking, and a run killed between journal steps. Each runs against SQLite and against the in-process Consul
/// server (whose clock is fake, so lock expiry needs no waiting).
/// </summary>
public abstract class StoreProcessTests : IAsyncLifetime
{
    protected readonly TempDir Dir = new();
    /// <summary>Starts at real time: the child processes stamp and judge the lock with the real clock.</summary>
    protected readonly FakeTimeProvider Time = new(DateTimeOffset.UtcNow);

    protected abstract string StateUrl { get; }
    protected abstract IStateStore OpenStore();
    protected abstract TimeSpan LockDelay { get; }
    /// <summary>How long an unrenewed lock of <paramref name="ttl"/> may still hold (Consul: up to 2×TTL, session_ttl.go).</summary>
    protected virtual TimeSpan HeldAtMost(TimeSpan ttl) => ttl;
    public abstract Task InitializeAsync();
    public virtual Task DisposeAsync()
    {
        Dir.Dispose();
        return Task.CompletedTask;
    }

    private string[] Lock(string owner, string reason) =>
        ["state", "lock", "--env", "prod", "--owner", owner, "--reason", reason, "--ttl", "90s", "--state", StateUrl, "--repo", Dir.Path];

    [Fact]
    public async Task Two_processes_take_the_lock_exactly_one_holds_it_the_other_is_told_who_and_why_and_it_expires_after_the_ttl()
    {
        using var alice = ChildProcess.Start(ChildProcess.Reconciler, Lock("alice", "schema migration"));
        using var bob = ChildProcess.Start(ChildProcess.Reconciler, Lock("bob", "hotfix deploy"));
        var results = await Task.WhenAll(alice.WaitAsync(TimeSpan.FromSeconds(60)), bob.WaitAsync(TimeSpan.FromSeconds(60)));

        var winner = Assert.Single(results, r => r.Code == ExitCodes.Ok);
        var loser = Assert.Single(results, r => r.Code == ExitCodes.LockedOrFrozen);
        var (holder, reason) = winner.Out.Contains("alice") ? ("alice", "schema migration") : ("bob", "hotfix deploy");
        Assert.Contains($"environment 'prod' is locked by {holder}", loser.Err);
        Assert.Contains(reason, loser.Err);
        Assert.DoesNotContain("   at ", loser.Err);   // no stack trace

        // Both processes have exited; the holder never unlocked. The lock holds until its TTL runs out...
        await using var store = OpenStore();
        Assert.Equal(holder, (await store.ReadLockAsync("prod", CancellationToken.None))?.Owner);
        Assert.False((await store.TryAcquireLockAsync("prod", "carol", "deploy", TimeSpan.FromMinutes(1), CancellationToken.None)).Acquired);
        // ...and then it is free. (The children stamped the lock with the real clock: catch the fake one up first.)
        if (DateTimeOffset.UtcNow > Time.GetUtcNow()) Time.SetUtcNow(DateTimeOffset.UtcNow);
        Time.Advance(HeldAtMost(TimeSpan.FromSeconds(90)) + TimeSpan.FromSeconds(1) + LockDelay);
        var taken = await store.TryAcquireLockAsync("prod", "carol", "deploy", TimeSpan.FromMinutes(1), CancellationToken.None);
        Assert.True(taken.Acquired, $"still held by {taken.Holder.Owner}: {taken.Holder.Reason}");
    }

    [Fact]
    public async Task Two_processes_writing_with_cas_on_one_version_exactly_one_wins_and_the_other_is_told_the_key_and_both_versions()
    {
        long seeded;
        await using (var store = OpenStore())
            seeded = await store.WriteAsync("prod", 0, new StateChange([StateStoreContract.Service("api", "1.0.0")], [], [], []), CancellationToken.None);
        using var a = ChildProcess.Start(ChildProcess.StateProbe, ["cas-write", StateUrl, Dir.Path, "prod", seeded.ToString(), "2.0.0-a"], readStdout: false);
        using var b = ChildProcess.Start(ChildProcess.StateProbe, ["cas-write", StateUrl, Dir.Path, "prod", seeded.ToString(), "2.0.0-b"], readStdout: false);
        await Task.WhenAll(a.WaitForLineAsync("ready", TimeSpan.FromSeconds(60)), b.WaitForLineAsync("ready", TimeSpan.FromSeconds(60)));
        await Task.WhenAll(a.SendLineAsync("go"), b.SendLineAsync("go"));
        var results = await Task.WhenAll(a.WaitReadingAsync(TimeSpan.FromSeconds(60)), b.WaitReadingAsync(TimeSpan.FromSeconds(60)));

        var winner = Assert.Single(results, r => r.Code == ExitCodes.Ok);
        var loser = Assert.Single(results, r => r.Code == ExitCodes.StaleOrConflict);
        var newVersion = long.Parse(winner.Out.Trim()["won ".Length..]);
        Assert.Contains($"expected version {seeded}, found {newVersion}", loser.Out);
        Assert.Contains("prod", loser.Out);
        await using var check = OpenStore();
        var live = await check.ReadAsync("prod", CancellationToken.None);
        Assert.Equal(newVersion, live.Version);
        Assert.Equal(results[0].Code == ExitCodes.Ok ? "2.0.0-a" : "2.0.0-b", live.Services["api"].Version);
    }

    [Fact]
    public async Task A_run_killed_between_journal_steps_leaves_a_journal_the_next_run_reads()
    {
        using (var crashed = ChildProcess.Start(ChildProcess.StateProbe, ["journal-then-hang", StateUrl, Dir.Path, "prod", "apply-42"], readStdout: false))
        {
            await crashed.WaitForLineAsync("ready", TimeSpan.FromSeconds(60));
            crashed.Kill();
        }
        await using var next = OpenStore();
        var open = await next.ReadOpenJournalAsync("prod", CancellationToken.None);
        Assert.Equal(
            ["apply-42 w1/api/host/web-1/upload Started", "apply-42 w1/api/host/web-1/upload Finished", "apply-42 w1/api/host/web-1/activate Started"],
            open.Select(e => $"{e.ApplyId} {e.Step} {e.Status}"));
    }
}

[Trait("Runs", "Executable")]
[Trait("Category", "EndToEnd")]
public sealed class SqliteStoreProcessTests : StoreProcessTests
{
    private string DbPath => Dir.Combine("state.db");
    protected override string StateUrl => "sqlite:" + DbPath;
    protected override IStateStore OpenStore() => new SqliteStateStore(DbPath, Time);
    protected override TimeSpan LockDelay => TimeSpan.Zero;
    public override Task InitializeAsync() => Task.CompletedTask;
}

[Trait("Runs", "Executable")]
[Trait("Category", "EndToEnd")]
public sealed class ConsulStoreProcessTests : StoreProcessTests
{
    private ConsulTestServer _server = null!;
    protected override string StateUrl => $"consul://{_server.Address.Authority}/reconciler";
    protected override IStateStore OpenStore() => new ConsulStateStore(new ConsulClient(new ConsulClientOptions(_server.Address)), "reconciler", Time);
    protected override TimeSpan LockDelay => TimeSpan.FromSeconds(5);
    protected override TimeSpan HeldAtMost(TimeSpan ttl) => ConsulTestServer.TtlMultiplier * ttl;
    public override async Task InitializeAsync() => _server = await ConsulTestServer.StartAsync(Time);

    public override async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await base.DisposeAsync();
    }

    [Fact]
    public async Task An_acl_denied_token_from_the_environment_is_a_clear_error_with_exit_code_7_and_nothing_is_written()
    {
        _server.RequiredToken = "right";
        var (code, _, err) = await ChildProcess.RunAsync(ChildProcess.Reconciler,
            ["state", "freeze", "--env", "prod", "--reason", "x", "--state", StateUrl], new Dictionary<string, string?> { ["CONSUL_HTTP_TOKEN"] = "wrong" });
        Assert.Equal(ExitCodes.StoreUnavailable, code);
        Assert.Contains("ACL permission denied", err);
        Assert.Equal(0, _server.Writes);

        var ok = await ChildProcess.RunAsync(ChildProcess.Reconciler,
            ["state", "freeze", "--env", "prod", "--reason", "x", "--state", StateUrl], new Dictionary<string, string?> { ["CONSUL_HTTP_TOKEN"] = "right" });
        Assert.Equal(ExitCodes.Ok, ok.Code);
        Assert.Contains("reconciler/prod/freeze", _server.Snapshot().Keys);
    }
}
