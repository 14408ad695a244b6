using Reconciler.Engine.Tests.Git;
using Reconciler.Testing;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Engine.Tests.UseCases;

public sealed class RunDaemonTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly StringWriter _log = new();

    public void Dispose() => _dir.Dispose();

    private DaemonRequest Request(string repo, string? state = null) =>
        new("test", repo, "main", TimeSpan.FromSeconds(30), state, null, null, false, "daemon@test", _log);

    [Fact]
    public async Task Prepares_a_daemon_on_the_store_named_at_the_head_commit()
    {
        using var repo = new InfraRepoFixture();

        await using var prepared = (await RunDaemon.PrepareAsync(Request(repo.Path), TimeProvider.System, CancellationToken.None)).Value;

        Assert.NotNull(prepared);
        var status = await prepared.Daemon.GetStatusAsync(CancellationToken.None);
        Assert.Equal("test", Assert.Single(status.Environments).Environment);
        Assert.Null(status.Environments[0].StoreError);
    }

    [Fact]
    public async Task A_directory_that_is_not_a_repository_is_invalid_input()
    {
        var result = await RunDaemon.PrepareAsync(Request(_dir.Path), TimeProvider.System, CancellationToken.None);

        Assert.Equal(FailureKind.InvalidInput, result.Failure?.Kind);
        Assert.Contains("is not a Git repository", result.Failure!.Message);
    }

    [Fact]
    public async Task A_head_that_does_not_validate_names_no_store_unless_state_is_given()
    {
        using var git = new GitTestRepo(_dir.Combine("infra"));
        git.Commit("A", ("reconciler.yaml", "apiVersion: reconciler/v1\nkind: Repository\nbogus: 1\n"));

        var result = await RunDaemon.PrepareAsync(Request(git.Path), TimeProvider.System, CancellationToken.None);
        Assert.Equal(FailureKind.InvalidInput, result.Failure?.Kind);
        Assert.StartsWith("cannot find the state store: commit ", result.Failure!.Message);
        Assert.EndsWith("Pass --state URL (or RECONCILER_STATE) so the daemon can start and wait for a fixed commit.", result.Failure.Message);

        await using var started = (await RunDaemon.PrepareAsync(Request(git.Path, "sqlite:state.db"), TimeProvider.System, CancellationToken.None)).Value;
        Assert.NotNull(started);
    }
}
