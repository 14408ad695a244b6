using LibGit2Sharp;
using Reconciler.Cli;
using Reconciler.Engine.Tests.Git;
using Reconciler.Engine.Tests.State;
using Reconciler.Schema.Tests;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Cli.Tests.EndToEnd;

/// <summary>
/// The CLI as a separate program gives the answers the CLI gives in this test process, on the paths where the shipped
/// Native AOT build can differ from the JIT one: schema validation (NJsonSchema and Newtonsoft.Json work by
/// reflection), Git (LibGit2Sharp's marshalling: discovery, tree diffs of the incremental plan, the user's git config)
/// and JSON output. By default the program is `dotnet reconciler.dll`; scripts/test.sh runs this class again with
/// RECONCILER_TEST_EXECUTABLE set to the AOT executable scripts/publish.sh built.
/// </summary>
[Trait("Runs", "Executable")]
[Trait("Category", "EndToEnd")]
public sealed class ExecutableTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Every bad fixture against the shipped executable; a sample of them against `dotnet reconciler.dll`,
    /// which runs the same code as this process (and takes a second per start).</summary>
    public static TheoryData<string> BadCases() => new(ChildProcess.ExecutableUnderTest is null
        ? FixtureRepo.BadCases().Where((_, i) => i % 10 == 0)
        : FixtureRepo.BadCases());

    [Theory]
    [MemberData(nameof(BadCases))]
    public async Task Validate_reports_each_bad_fixture_as_the_in_process_cli_does(string badCase)
    {
        var repo = _dir.Combine(badCase);
        foreach (var (path, bytes) in FixtureRepo.Files(badCase))
        {
            var full = Path.Combine(repo, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, bytes);
        }

        string[] args = ["validate", "--repo", repo, "--no-cache", "--format", "json"];
        var expected = await InProcess(args);
        var actual = await Executable(args);

        Assert.Equal(expected, actual);
    }

    [Fact]
    public async Task Plans_from_git_fully_and_incrementally_as_the_in_process_cli_does()
    {
        var origin = ExampleRepo("origin");
        using (var git = new Repository(origin))
        {
            var baseCommit = git.Head.Tip.Sha;
            Bump(origin, git, "infra/services/api.yaml", "1.5.0", "1.6.0");
            string[] preview = ["plan", "--repo", Path.Combine(origin, "infra"), "--rev", "HEAD", "--base", baseCommit, "--env", "production", "--format", "json", "--verbose"];
            var first = await Executable(preview);
            Assert.True(first.Code == 2 || first.Code == 0, first.Err);

            // One more file changed since the last preview: the executable plans it from its snapshot (a Git tree diff).
            Bump(origin, git, "infra/services/web.yaml", null, null);
            var second = await Executable(preview);
            Assert.Contains("incremental:", second.Err);

            // The reference: the in-process CLI, in a clone without any snapshot, plans in full.
            Repository.Clone(origin, _dir.Combine("clone"));
            var full = await InProcess(["plan", "--repo", _dir.Combine("clone", "infra"), "--rev", git.Head.Tip.Sha, "--base", baseCommit, "--env", "production", "--format", "json"]);
            Assert.DoesNotContain("incremental:", full.Err);
            Assert.Equal((full.Code, full.Out), (second.Code, second.Out));
        }
    }

    [Fact]
    public async Task Status_finds_the_repository_above_the_infra_directory_as_the_in_process_cli_does()
    {
        var repo = ExampleRepo("status");
        string[] args = ["status", "--repo", Path.Combine(repo, "infra"), "--env", "staging", "--recorded", "--format", "json"];

        var expected = await InProcess(args);
        var actual = await Executable(args);

        Assert.Equal(expected, actual);
        Assert.Equal(0, actual.Code);
    }

    [Fact]
    public async Task Revert_signs_with_the_identity_in_the_users_git_config()
    {
        var repo = ExampleRepo("revert");
        string bump;
        using (var git = new Repository(repo)) bump = Bump(repo, git, "infra/services/api.yaml", "1.5.0", "1.6.0");
        var home = _dir.Combine("home");
        Directory.CreateDirectory(home);
        File.WriteAllText(Path.Combine(home, ".gitconfig"), "[user]\n\tname = Home User\n\temail = home@example.com\n");

        var (code, stdout, stderr) = await ChildProcess.RunAsync(ChildProcess.Reconciler, ["revert", bump, "--repo", Path.Combine(repo, "infra")],
            new Dictionary<string, string?> { ["HOME"] = home });

        Assert.True(code == 0, stdout + stderr);
        using var after = new Repository(repo);
        Assert.Equal(("Home User", "home@example.com"), (after.Head.Tip.Author.Name, after.Head.Tip.Author.Email));
        Assert.Equal(bump, after.Head.Tip.Parents.Single().Sha);
    }

    /// <summary>A Git repository holding the example infra repo in its subdirectory infra/, committed once.</summary>
    private string ExampleRepo(string name)
    {
        var path = _dir.Combine(name);
        CopyTree(Path.Combine(GitFixture.ProjectRoot(), "examples", "infra-repo"), Path.Combine(path, "infra"));
        Repository.Init(path);
        using var git = new Repository(path);
        Commands.Stage(git, "*");
        var me = new Signature("t", "t@example.com", DateTimeOffset.UnixEpoch);
        git.Commit("example", me, me);
        return path;
    }

    /// <summary>Commits a change to one file: a version replaced, or (null) a comment appended.</summary>
    private static string Bump(string root, Repository git, string file, string? from, string? to)
    {
        var path = Path.Combine(root, file);
        var text = File.ReadAllText(path);
        var changed = from is null ? text + "# touched\n" : text.Replace($"version: {from}", $"version: {to}");
        Assert.NotEqual(text, changed);
        File.WriteAllText(path, changed);
        Commands.Stage(git, file);
        var me = new Signature("t", "t@example.com", DateTimeOffset.UnixEpoch.AddMinutes(git.Commits.Count()));
        return git.Commit("change " + file, me, me).Sha;
    }

    private static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (relative.StartsWith(".reconciler", StringComparison.Ordinal)) continue;
            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static async Task<(int Code, string Out, string Err)> InProcess(string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await CliApp.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static Task<(int Code, string Out, string Err)> Executable(string[] args) =>
        ChildProcess.RunAsync(ChildProcess.Reconciler, args);
}
