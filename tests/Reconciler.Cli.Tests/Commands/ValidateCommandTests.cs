using Reconciler.Cli;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Git;
using Xunit;

namespace Reconciler.Cli.Tests.Cli;

public sealed class ValidateCommandTests
{
    private const string Repository = """
        apiVersion: reconciler/v1
        kind: Repository

        """;

    private const string Staging = """
        apiVersion: reconciler/v1
        kind: Environment
        name: staging
        hostGroups:
          local:
            hosts:
              - name: local-1
                address: 127.0.0.1

        """;

    private static string Service(string name, string version, string dependsOn = "[]") => $"""
        apiVersion: reconciler/v1
        kind: Service
        name: {name}
        version: {version}
        artifact:
          url: artifacts/{name}.tar.gz
          sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
        hostGroup: local
        dependsOn: {dependsOn}
        deploy:
          driver: local
          path: /tmp/reconciler-validate-test/{name}

        """;

    /// <summary>A valid repo at HEAD~1 and, at HEAD, a commit that breaks two files: api.yaml gets a version that
    /// is not semver (schema), db.yaml a dependency on a service that does not exist (cross-file rule).</summary>
    private static GitFixture GoodThenBad(string prefix = "")
    {
        var git = new GitFixture();
        git.Write(prefix + "reconciler.yaml", Repository);
        git.Write(prefix + "environments/staging.yaml", Staging);
        git.Write(prefix + "services/api.yaml", Service("api", "1.0.0", "[db]"));
        git.Write(prefix + "services/db.yaml", Service("db", "2.0.0"));
        git.Commit("good");
        git.Write(prefix + "services/api.yaml", Service("api", "latest", "[db]"));
        git.Write(prefix + "services/db.yaml", Service("db", "2.0.0", "[cache]"));
        git.Commit("bad: version and dependency");
        return git;
    }

    private static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task The_example_infra_repo_is_valid()
    {
        var example = Path.Combine(GitFixture.ProjectRoot(), "examples", "infra-repo");

        var (exit, stdout, stderr) = await Run("validate", "--repo", example, "--no-cache");

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("valid: 6 services, 2 environments, 2 toggles", stdout);
    }

    [Fact]
    public async Task A_bad_commit_fails_with_locations_and_its_parent_passes()
    {
        using var git = GoodThenBad();

        var bad = await Run("validate", "--repo", git.Root, "--rev", "HEAD", "--no-cache");
        var good = await Run("validate", "--repo", git.Root, "--rev", "HEAD~1", "--no-cache");

        Assert.Equal(ExitCodes.Error, bad.Exit);
        Assert.Contains($"{git.Root}/services/api.yaml:4:10: error ", bad.Out);
        Golden.Match(bad.Out.Replace(git.Root, "<repo>"), "validate-bad-commit.txt");
        Assert.True(good.Exit == ExitCodes.Ok, good.Out + good.Err);
        Golden.Match(good.Out.Replace(git.Root, "<repo>"), "validate-good-commit.txt");
    }

    [Fact]
    public async Task Json_output_is_an_array_with_paths_from_the_git_root()
    {
        using var git = GoodThenBad(prefix: "ops/infra/");

        var (exit, stdout, _) = await Run("validate", "--repo", git.PathOf("ops/infra"), "--rev", "HEAD", "--format", "json");

        Assert.Equal(ExitCodes.Error, exit);
        Golden.Match(stdout, "validate-bad-commit.json");
        var (goodExit, goodOut, _) = await Run("validate", "--repo", git.PathOf("ops/infra"), "--rev", "HEAD~1", "--format", "json");
        Assert.Equal(ExitCodes.Ok, goodExit);
        Assert.Equal("[]\n", goodOut);
    }

    [Fact]
    public async Task The_working_tree_is_read_with_uncommitted_edits()
    {
        using var git = GoodThenBad();
        // Fixed on disk, not committed.
        git.Write("services/api.yaml", Service("api", "1.1.0", "[db]"));
        git.Write("services/db.yaml", Service("db", "2.0.0"));

        var disk = await Run("validate", "--repo", git.Root);
        var head = await Run("validate", "--repo", git.Root, "--rev", "HEAD");

        Assert.True(disk.Exit == ExitCodes.Ok, disk.Out + disk.Err);
        Assert.Contains("in the working tree (HEAD ", disk.Out);
        Assert.Contains(", uncommitted changes)", disk.Out);
        Assert.Equal(ExitCodes.Error, head.Exit);
    }

    [Fact]
    public async Task Parse_cache_gives_the_same_answer_as_a_cold_run()
    {
        using var git = GoodThenBad();

        var cold = await Run("validate", "--repo", git.Root, "--rev", "HEAD");
        var warm = await Run("validate", "--repo", git.Root, "--rev", "HEAD");

        Assert.True(File.Exists(Path.Combine(git.Root, ".reconciler", "cache", "parse", "parse.pack")));
        Assert.Equal(cold, warm);
    }

    [Fact]
    public async Task An_unknown_revision_is_a_one_line_error_with_exit_1()
    {
        using var git = GoodThenBad();

        var (exit, stdout, stderr) = await Run("validate", "--repo", git.Root, "--rev", "no-such-branch");

        Assert.Equal(ExitCodes.Error, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith("error: unknown revision 'no-such-branch'", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public async Task A_directory_outside_git_with_rev_is_a_one_line_error_with_exit_1()
    {
        using var dir = new TempDir();

        var (exit, _, stderr) = await Run("validate", "--repo", dir.Path, "--rev", "HEAD");

        Assert.Equal(ExitCodes.Error, exit);
        Assert.StartsWith($"error: {dir.Path} is not inside a Git repository", stderr);
    }

    [Fact]
    public async Task Github_format_is_one_workflow_annotation_per_diagnostic_at_its_file_line_and_column()
    {
        using var git = GoodThenBad(prefix: "ops/infra/");

        var (exit, stdout, _) = await Run("validate", "--repo", git.PathOf("ops/infra"), "--rev", "HEAD", "--format", "github");

        Assert.Equal(ExitCodes.Error, exit);
        Assert.Equal(
            "::error file=ops/infra/services/api.yaml,line=4,col=10,title=schema.pattern::'version' 'latest' is not valid: use a semantic version such as 1.4.2 or 2.0.0-rc.1 (at /version)\n" +
            "::error file=ops/infra/services/db.yaml,line=9,col=13,title=ref.depends-on::service 'db' depends on 'cache', which is not defined; create services/cache.yaml or remove it from dependsOn (at /dependsOn/0)\n",
            string.Concat(stdout.Split('\n').Where(l => l.StartsWith("::", StringComparison.Ordinal)).Select(l => l + "\n")));
        Assert.StartsWith("invalid: 2 errors", stdout.Split('\n')[^2]);
    }

    [Fact]
    public void Github_annotations_escape_what_would_end_or_split_the_command()
    {
        var d = new Reconciler.Schema.Model.Diagnostic(Reconciler.Schema.Model.Severity.Warning, "rule,x", "100% bad\nline two::x",
            new Reconciler.Schema.Model.SourceLocation("services/a:b.yaml", 1, 2), null);
        Assert.Equal("::warning file=services/a%3Ab.yaml,line=1,col=2,title=rule%2Cx::100%25 bad%0Aline two::x\nok\n",
            Reconciler.Views.ValidateOutput.Github([d], "", "ok"));
    }

    [Fact]
    public async Task An_unknown_format_is_a_usage_error()
    {
        var (exit, _, stderr) = await Run("validate", "--format", "yaml");
        Assert.NotEqual(0, exit);
        Assert.Contains("yaml", stderr);
    }

    [Theory]
    [InlineData(".", "")]
    [InlineData("./", "")]
    [InlineData("examples/infra-repo", "examples/infra-repo/")]
    [InlineData("./examples/infra-repo/", "examples/infra-repo/")]
    [InlineData("/abs/dir", "/abs/dir/")]
    public void Display_prefix_keeps_the_repo_argument_as_typed(string repo, string expected) =>
        Assert.Equal(expected, ValidateCommand.DisplayPrefix(repo));
}
