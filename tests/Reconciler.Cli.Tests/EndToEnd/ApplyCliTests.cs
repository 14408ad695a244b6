using Reconciler.Cli;
using Reconciler.Testing;
using Reconciler.Engine.Tests.State;
using Xunit;

namespace Reconciler.Cli.Tests.EndToEnd;

/// <summary>`reconciler apply` as a process, on a copy of the example repo: what it refuses before touching anything.</summary>
[Trait("Runs", "Executable")]
[Trait("Category", "EndToEnd")]
public sealed class ApplyCliTests : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    private string CopyExample()
    {
        var source = Path.Combine(FindRoot(), "examples", "infra-repo");
        var target = _temp.Combine("infra-repo");
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories)
                     .Where(f => !Path.GetRelativePath(source, f).StartsWith(".reconciler", StringComparison.Ordinal)))
        {
            var to = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
        return target;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Reconciler.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public async Task Without_yes_and_without_a_terminal_apply_shows_the_plan_and_refuses()
    {
        var repo = CopyExample();

        var (code, stdout, stderr) = await ChildProcess.RunAsync(ChildProcess.Reconciler, ["apply", "--repo", repo, "--env", "staging"]);

        Assert.Equal(ExitCodes.Error, code);
        Assert.Contains("Plan: 6 to create", stdout);
        Assert.Contains("stdin is not a terminal", stderr);
        Assert.Contains("--yes", stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.False(Directory.Exists(Path.Combine(repo, ".reconciler", "local")));   // nothing was deployed
    }

    [Fact]
    public async Task A_saved_plan_for_another_environment_or_a_bad_option_is_refused_with_a_clear_message()
    {
        var repo = CopyExample();
        var plan = Path.Combine(_temp.Path, "plan.json");
        var saved = await ChildProcess.RunAsync(ChildProcess.Reconciler, ["plan", "--repo", repo, "--env", "staging", "--format", "json", "--out", plan]);
        Assert.True(saved.Code == 0, saved.Err);

        var wrongEnv = await ChildProcess.RunAsync(ChildProcess.Reconciler, ["apply", "--repo", repo, "--plan", plan, "--env", "production", "--yes"]);
        Assert.Equal(ExitCodes.Error, wrongEnv.Code);
        Assert.Contains("is a plan for 'staging', not 'production'", wrongEnv.Err);

        var badParallel = await ChildProcess.RunAsync(ChildProcess.Reconciler, ["apply", "--repo", repo, "--max-parallel", "0", "--yes"]);
        Assert.Equal(ExitCodes.Error, badParallel.Code);
        Assert.Contains("--max-parallel must be at least 1", badParallel.Err);
    }
}
