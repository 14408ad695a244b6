using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Engine.Tests.UseCases;

public sealed class RevertCommitTests : IDisposable
{
    private readonly InfraRepoFixture _repo = new();

    public void Dispose() => _repo.Dispose();

    [Fact]
    public void Writes_the_revert_commit_on_the_branch_and_returns_it()
    {
        var bad = _repo.CommitVersion("2.0.0");

        var result = RevertCommit.Run(new RevertRequest(_repo.Path, bad[..10], null, null), DateTimeOffset.UnixEpoch);

        Assert.True(result.Succeeded, result.Failure?.Message);
        Assert.Equal(("main", bad), (result.Value.Branch, result.Value.RevertedSha));
        Assert.Equal(result.Value.NewSha, _repo.Git.Repo.Head.Tip.Sha);
        Assert.StartsWith("Revert \"api 2.0.0\"", result.Value.Message);
        Assert.Contains("version: 1.0.0", _repo.Git.Read("services/api.yaml"));
    }

    [Theory]
    [InlineData("0123456789abcdef", null, "commit '0123456789abcdef' is not in")]
    [InlineData("HEAD", " ", "--message is empty")]
    public void Bad_input_is_invalid_input_and_writes_nothing(string sha, string? message, string expected)
    {
        var head = _repo.Git.Repo.Head.Tip.Sha;

        var result = RevertCommit.Run(new RevertRequest(_repo.Path, sha, message, null), DateTimeOffset.UnixEpoch);

        Assert.Equal(FailureKind.InvalidInput, result.Failure?.Kind);
        Assert.Contains(expected, result.Failure!.Message);
        Assert.Equal(head, _repo.Git.Repo.Head.Tip.Sha);
    }
}
