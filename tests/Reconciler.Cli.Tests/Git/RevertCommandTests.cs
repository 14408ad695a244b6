using Reconciler.Cli;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Cli.Tests.Git;

public sealed class RevertCommandTests
{
    [Fact]
    public async Task Prints_the_new_commit_and_how_to_deploy_it()
    {
        using var dir = new TempDir();
        using var repo = new GitTestRepo(dir.Combine("infra"));
        repo.Commit("A", ("a.yaml", "a: 1\n"));
        var b = repo.Commit("B", ("a.yaml", "a: 2\n"));
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        var exit = await CliApp.RunAsync(["revert", b.Sha[..8], "--repo", repo.Path], stdout, stderr);

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal("", stderr.ToString());
        var newSha = repo.Repo.Head.Tip.Sha;
        Assert.Equal($"[main {newSha[..12]}] Revert \"B\"\nreverts {b.Sha}\npush it to deploy: git push origin main   (or open a pull request; its plan shows the downgrades)\n",
            stdout.ToString().Replace("\r\n", "\n"));
    }

    [Fact]
    public async Task A_conflict_is_exit_1_with_the_files_and_no_stack_trace()
    {
        using var dir = new TempDir();
        using var repo = new GitTestRepo(dir.Combine("infra"));
        repo.Commit("A", ("a.yaml", "a: 1\n"));
        var b = repo.Commit("B", ("a.yaml", "a: 2\n"));
        repo.Commit("C", ("a.yaml", "a: 3\n"));
        var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(["revert", b.Sha, "--repo", repo.Path], new StringWriter(), stderr);
        Assert.Equal(ExitCodes.Error, exit);
        Assert.StartsWith($"error: reverting {b.Sha[..12]} conflicts with later changes in: a.yaml.", stderr.ToString());
        Assert.DoesNotContain("   at ", stderr.ToString());
    }
}
