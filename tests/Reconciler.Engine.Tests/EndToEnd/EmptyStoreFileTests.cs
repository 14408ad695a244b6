using Reconciler.Diff.Planning;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Xunit;

namespace Reconciler.Engine.Tests.EndToEnd;

/// <summary>
/// Finding 7 of issue 11 on real sshd: a store file truncated to 0 bytes is refused as corrupt (store unavailable,
/// exit 7), so a quarantined commit is not applied on an empty store; the hosts keep their release and the file stays
/// as it was.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class EmptyStoreFileTests(FourHostFleet fixture) : IClassFixture<FourHostFleet>, IAsyncLifetime
{
    private readonly FleetWorld _world = new(fixture.Fleet);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _world.DisposeAsync();

    [Fact]
    public async Task A_truncated_store_is_refused_and_a_quarantined_commit_is_not_applied()
    {
        var v1 = _world.Service("api", "1.0.0");
        await _world.SucceedsAsync(_world.Desired("c1", v1));
        await _world.Store.QuarantineAsync(FleetWorld.Env, new QuarantinedCommit("c2", "failed its gate", DateTimeOffset.UtcNow), default);
        var quarantined = _world.Desired("c2", _world.Service("api", "1.1.0"));

        await _world.CloseStoreAsync();
        await File.WriteAllBytesAsync(_world.StoreFile, []);
        _world.OpenStore(new SqliteStateStore(_world.StoreFile, TimeProvider.System));

        var refused = await Assert.ThrowsAsync<StateStoreUnavailableException>(() => _world.ApplyAsync(quarantined));

        Assert.Equal(FailureKind.StoreUnavailable, refused.Kind);
        Assert.Contains("is an empty file (0 bytes), not a state database", refused.Message);
        for (var i = 0; i < 4; i++)
            Assert.Equal($"releases/{ServiceFields.ReleaseId(v1)}", _world.Current(i, "api"));
        Assert.Equal(0, new FileInfo(_world.StoreFile).Length);
    }
}
