using Reconciler.Cli;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Git;
using Xunit;

namespace Reconciler.Cli.Tests.Cli;

public sealed class RunCommandTests
{
    [Theory]
    [InlineData("--interval", "5 seconds", "--interval '5 seconds' is not a duration")]
    [InlineData("--interval", "0s", "--interval must be greater than zero")]
    [InlineData("--listen", "localhost:8080", "--listen 'localhost:8080' is not an address:port")]
    [InlineData("--branch", "bad..name", "'bad..name' is not a valid branch name")]
    [InlineData("--max-parallel", "0", "--max-parallel must be at least 1")]
    public async Task Bad_options_are_one_line_errors_with_exit_1(string option, string value, string message)
    {
        using var dir = new TempDir();
        using var repo = new GitTestRepo(dir.Combine("infra"));
        repo.Commit("A", ("reconciler.yaml", "apiVersion: reconciler/v1\nkind: Repository\n"));
        var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(["run", "--env", "test", "--repo", repo.Path, option, value], new StringWriter(), stderr);
        Assert.Equal(ExitCodes.Error, exit);
        Assert.StartsWith("error: " + message, stderr.ToString());
    }

    [Fact]
    public async Task A_directory_that_is_not_a_repository_is_refused()
    {
        using var dir = new TempDir();
        var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(["run", "--env", "test", "--repo", dir.Path], new StringWriter(), stderr);
        Assert.Equal(ExitCodes.Error, exit);
        Assert.Contains("is not a Git repository", stderr.ToString());
    }

    [Fact]
    public async Task A_head_that_does_not_validate_without_state_says_to_pass_state()
    {
        using var dir = new TempDir();
        using var repo = new GitTestRepo(dir.Combine("infra"));
        repo.Commit("A", ("reconciler.yaml", "apiVersion: reconciler/v1\nkind: Repository\nbogus: 1\n"));
        var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(["run", "--env", "test", "--repo", repo.Path], new StringWriter(), stderr);
        Assert.Equal(ExitCodes.Error, exit);
        Assert.Contains("does not validate", stderr.ToString());
        Assert.Contains("Pass --state URL", stderr.ToString());
    }
}
