using System.Text.RegularExpressions;
using Reconciler.Cli;
using Reconciler.Engine.Tests.Git;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Cli.Tests.Cli;

/// <summary>`reconciler init`: the new repo validates and plans as it is, on disk and once committed to Git; its
/// modelines resolve to the schemas it carries, which are the project's.</summary>
public sealed partial class InitCommandTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Init_then_validate_then_plan()
    {
        var repo = Path.Combine(_tmp.Path, "infra");
        var init = await Run("init", repo);
        Assert.True(init.Exit == 0, init.Err);
        foreach (var file in new[] { "reconciler.yaml", "environments/production.yaml", "services/hello.yaml", "toggles/new-greeting.yaml",
                     ".gitignore", "schemas/service.schema.json", ".github/workflows/reconciler.yml", ".github/reconciler/pr-plan.sh" })
            Assert.True(File.Exists(Path.Combine(repo, file)), file);
        Assert.Contains(".reconciler/", File.ReadAllLines(Path.Combine(repo, ".gitignore")));
        if (!OperatingSystem.IsWindows()) Assert.True(File.GetUnixFileMode(Path.Combine(repo, ".github/reconciler/pr-plan.sh")).HasFlag(UnixFileMode.UserExecute));

        var validate = await Run("validate", "--repo", repo);
        Assert.True(validate.Exit == 0, validate.Out + validate.Err);
        Assert.StartsWith("valid: 1 service, 1 environment, 1 toggle", validate.Out);

        var plan = await Run("plan", "--repo", repo, "--detailed-exitcode");
        Assert.True(plan.Exit == ExitCodes.Changes, plan.Err);
        Assert.Contains("(nothing is deployed yet)", plan.Out);
        Assert.Contains("+ hello  create 1.0.0", plan.Out);
        Assert.Contains("+ health.checks[0] = \"http http://${host.address}:${host.vars.httpPort}/health expect 200 timeout 2s\"", plan.Out);
        Assert.Contains("+ new-greeting created", plan.Out);

        // Committed as it is, it validates and plans from Git too (what CI does).
        using (var git = new LibGit2Sharp.Repository(LibGit2Sharp.Repository.Init(repo)))
        {
            LibGit2Sharp.Commands.Stage(git, "*");
            var who = new LibGit2Sharp.Signature("t", "t@example.invalid", DateTimeOffset.UnixEpoch);
            git.Commit("reconciler init", who, who, new LibGit2Sharp.CommitOptions());
            // The plan above left its cache in .reconciler/; the .gitignore kept it out of the commit.
            Assert.True(Directory.Exists(Path.Combine(repo, ".reconciler")));
            Assert.DoesNotContain(git.Index, e => e.Path.StartsWith(".reconciler/", StringComparison.Ordinal));
            Assert.Contains(git.Index, e => e.Path == "services/hello.yaml");
        }
        Assert.Equal(0, (await Run("validate", "--repo", repo, "--rev", "HEAD", "--format", "github")).Exit);
        var markdown = await Run("plan", "--repo", repo, "--rev", "HEAD", "--format", "markdown");
        Assert.True(markdown.Exit == 0, markdown.Err);
        Assert.Contains("Nothing is deployed in `production` yet", markdown.Out);
    }

    [Fact]
    public async Task Every_modeline_resolves_to_the_projects_schema_for_its_kind()
    {
        var repo = Path.Combine(_tmp.Path, "infra");
        Assert.Equal(0, (await Run("init", repo)).Exit);
        var yamlFiles = Directory.GetFiles(repo, "*.yaml", SearchOption.AllDirectories);
        Assert.Equal(4, yamlFiles.Length);
        foreach (var file in yamlFiles)
        {
            var modeline = Modeline().Match(File.ReadLines(file).First());
            Assert.True(modeline.Success, $"{file}: no yaml-language-server modeline on line 1");
            var schema = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, modeline.Groups[1].Value));
            Assert.True(File.Exists(schema), $"{file}: {modeline.Groups[1].Value} does not resolve");
            var kind = Regex.Match(File.ReadAllText(file), "^kind: (\\w+)", RegexOptions.Multiline).Groups[1].Value.ToLowerInvariant();
            Assert.Equal($"{kind}.schema.json", Path.GetFileName(schema));
            Assert.Equal(File.ReadAllText(Path.Combine(GitFixture.ProjectRoot(), "schemas", Path.GetFileName(schema))), File.ReadAllText(schema));
        }
        // The workflow and its scripts are the example's, as the CI-steps test runs them.
        Assert.Equal(File.ReadAllText(Path.Combine(GitFixture.ProjectRoot(), "examples/ci/github-actions.yml")),
            File.ReadAllText(Path.Combine(repo, ".github/workflows/reconciler.yml")));
    }

    [Fact]
    public async Task Init_into_an_existing_repo_changes_nothing()
    {
        var repo = Path.Combine(_tmp.Path, "infra");
        Directory.CreateDirectory(repo);
        File.WriteAllText(Path.Combine(repo, "reconciler.yaml"), "mine\n");
        var (exit, stdout, stderr) = await Run("init", repo);
        Assert.Equal(ExitCodes.Error, exit);
        Assert.StartsWith($"error: {repo} already has reconciler.yaml;", stderr);
        Assert.Equal("", stdout);
        Assert.Equal(["reconciler.yaml"], Directory.GetFileSystemEntries(repo).Select(Path.GetFileName));
        Assert.Equal("mine\n", File.ReadAllText(Path.Combine(repo, "reconciler.yaml")));
    }

    [Fact]
    public async Task Schemas_only_writes_or_updates_the_schemas_and_nothing_else()
    {
        var repo = Path.Combine(_tmp.Path, "existing");
        Directory.CreateDirectory(Path.Combine(repo, "schemas"));
        File.WriteAllText(Path.Combine(repo, "reconciler.yaml"), "mine\n");
        File.WriteAllText(Path.Combine(repo, "schemas", "service.schema.json"), "{}");
        var (exit, stdout, stderr) = await Run("init", repo, "--schemas-only");
        Assert.True(exit == 0, stderr);
        Assert.Equal(4, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(["environment.schema.json", "repository.schema.json", "service.schema.json", "toggle.schema.json"],
            Directory.GetFiles(Path.Combine(repo, "schemas")).Select(Path.GetFileName).Order());
        Assert.Equal(File.ReadAllText(Path.Combine(GitFixture.ProjectRoot(), "schemas", "service.schema.json")), File.ReadAllText(Path.Combine(repo, "schemas", "service.schema.json")));
        Assert.Equal("mine\n", File.ReadAllText(Path.Combine(repo, "reconciler.yaml")));
        Assert.Equal(["reconciler.yaml", "schemas"], Directory.GetFileSystemEntries(repo).Select(Path.GetFileName).Order());
    }

    [GeneratedRegex("^# yaml-language-server: \\$schema=(\\S+)$")]
    private static partial Regex Modeline();
}
