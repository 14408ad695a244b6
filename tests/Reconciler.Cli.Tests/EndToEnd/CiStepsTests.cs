using System.Diagnostics;
using Reconciler.Engine.Tests.Git;
using Reconciler.Engine.Tests.State;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Cli.Tests.EndToEnd;

/// <summary>
/// The shell steps of examples/ci/github-actions.yml, run as written with the variables GitHub would set, against
/// real Git repositories where main moved on after the pull request branched, the real `reconciler` (built with this
/// solution) on PATH and a GitHub comments API on loopback (<see cref="FakeGitHubApi"/>).
/// </summary>
[Trait("Runs", "Executable")]
[Trait("Category", "EndToEnd")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")] // bash, git, curl, jq: as on GitHub's Ubuntu runners
public sealed class CiStepsTests : IDisposable
{
    private const string Token = "ghs_test_token";
    private const int Pr = 7;
    private static readonly string Scripts = Path.Combine(GitFixture.ProjectRoot(), "examples", "ci", "scripts");

    private readonly TempDir _tmp = new();
    private readonly FakeGitHubApi _github = new("acme/infra", Token);
    private readonly string _origin;
    private readonly string _workspace;
    private readonly string _bin;

    public CiStepsTests()
    {
        _origin = Path.Combine(_tmp.Path, "origin");
        _workspace = Path.Combine(_tmp.Path, "workspace");
        _bin = Path.Combine(_tmp.Path, "bin");
        Directory.CreateDirectory(_bin);
        // `reconciler` on PATH: the CLI this solution built.
        File.WriteAllText(Path.Combine(_bin, "reconciler"), ChildProcess.ExecutableUnderTest is { } native
            ? $"#!/bin/sh\nexec \"{native}\" \"$@\"\n"
            : $"#!/bin/sh\nexec \"{Dotnet}\" exec \"{Path.Combine(AppContext.BaseDirectory, "reconciler.dll")}\" \"$@\"\n");
        File.SetUnixFileMode(Path.Combine(_bin, "reconciler"), (UnixFileMode)0b111_101_101);
    }

    public void Dispose()
    {
        _github.Dispose();
        _tmp.Dispose();
    }

    private static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } p ? p : "dotnet";

    /// <summary>origin: the example repo on main (C0); branch pr from C0 bumps api in production (C1); then main moves
    /// on: web logs at warn (C2). Returns the PR head.</summary>
    private string OriginWhereMainMovedOn()
    {
        var example = Path.Combine(GitFixture.ProjectRoot(), "examples", "infra-repo");
        Directory.CreateDirectory(_origin);
        Git(_origin, "init", "-q", "-b", "main");
        foreach (var dir in new[] { "environments", "services", "toggles" })
        {
            Directory.CreateDirectory(Path.Combine(_origin, dir));
            foreach (var file in Directory.GetFiles(Path.Combine(example, dir), "*.yaml"))
                File.Copy(file, Path.Combine(_origin, dir, Path.GetFileName(file)));
        }
        File.Copy(Path.Combine(example, "reconciler.yaml"), Path.Combine(_origin, "reconciler.yaml"));
        File.WriteAllText(Path.Combine(_origin, ".gitignore"), ".reconciler/\n");
        Commit(_origin, "example repo");
        Git(_origin, "checkout", "-q", "-b", "pr");
        Edit(_origin, "services/api.yaml", api =>
        {
            var from = api.IndexOf("  production:\n    version: 1.4.2", StringComparison.Ordinal);
            return api.Remove(from, api.IndexOf("  staging:", StringComparison.Ordinal) - from);
        });
        var head = Commit(_origin, "production: api 1.5.0");
        Git(_origin, "checkout", "-q", "main");
        Edit(_origin, "services/web.yaml", web => web.Replace("LOG_LEVEL: info", "LOG_LEVEL: warn", StringComparison.Ordinal));
        Commit(_origin, "web: quieter logs");
        Git(_tmp.Path, "clone", "-q", _origin, _workspace);
        return head;
    }

    private Dictionary<string, string> GitHubVariables(string headSha) => new()
    {
        ["GITHUB_ACTIONS"] = "true",
        ["GITHUB_REPOSITORY"] = "acme/infra",
        ["GITHUB_API_URL"] = _github.Url,
        ["GITHUB_BASE_REF"] = "main",
        ["GITHUB_HEAD_REF"] = "pr",
        ["GITHUB_EVENT_NAME"] = "pull_request",
        ["GITHUB_OUTPUT"] = Path.Combine(_tmp.Path, "github_output"),
        ["RUNNER_TEMP"] = Path.Combine(_tmp.Path, "runner_temp"),
        ["GITHUB_TOKEN"] = Token,
        ["PR_NUMBER"] = Pr.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["PR_HEAD_SHA"] = headSha,
        ["RECONCILER_ENV"] = "production",
    };

    [Fact]
    public async Task Pull_request_plans_the_merge_keeps_one_comment_and_marks_it_outdated_when_validate_fails()
    {
        var head = OriginWhereMainMovedOn();

        // 1. The plan of the merge: the PR's api bump, and not web's log level, which main already has. (The PR head
        //    alone against main would show web's change undone: checked below, so this test would catch that.)
        var first = await Step("pr-plan.sh", GitHubVariables(head));
        Assert.True(first.Code == 0, first.Out + first.Err);
        var comment = Assert.Single(_github.Comments(Pr));
        Assert.StartsWith("<!-- reconciler-plan part=1 -->\n### Reconciler plan: `production` at `", comment.Body);
        Assert.Contains("<code>~ api</code> upgrade 1.4.2 -&gt; 1.5.0", comment.Body);
        Assert.DoesNotContain("LOG_LEVEL", comment.Body);
        Assert.DoesNotContain("web", comment.Body.Split("#### Risk")[1]);
        Assert.Contains("changes=true", File.ReadAllText(Path.Combine(_tmp.Path, "github_output")));
        var headOnly = await Shell(_workspace, $"reconciler plan --rev {head} --base origin/main --env production --format markdown", new Dictionary<string, string>());
        Assert.Contains("LOG_LEVEL", headOnly.Out);

        // 2. A push that breaks validation: annotations on the file, exit 1, the same comment marked outdated.
        Git(_origin, "checkout", "-q", "pr");
        Edit(_origin, "services/api.yaml", api => api.Replace("version: 1.5.0", "version: latest", StringComparison.Ordinal));
        var broken = Commit(_origin, "api: latest");
        Git(_workspace, "fetch", "-q", "origin", "pr");
        var second = await Step("pr-plan.sh", GitHubVariables(broken));
        Assert.Equal(1, second.Code);
        Assert.Matches("::error file=services/api.yaml,line=6,col=10,title=schema.pattern::'version' 'latest' is not valid", second.Out);
        var outdated = Assert.Single(_github.Comments(Pr));
        Assert.Equal(comment.Id, outdated.Id);
        Assert.StartsWith($"<!-- reconciler-plan part=1 -->\n> [!WARNING]\n> **Outdated:** `reconciler validate` failed at {broken[..12]} (exit 1)", outdated.Body);
        Assert.Contains("<code>~ api</code> upgrade 1.4.2 -&gt; 1.5.0", outdated.Body); // the old plan kept below the banner

        // 3. Failing again replaces the banner rather than stacking a second one.
        var third = await Step("pr-plan.sh", GitHubVariables(broken));
        Assert.Equal(1, third.Code);
        Assert.Equal(2, Assert.Single(_github.Comments(Pr)).Body.Split("[!WARNING]").Length);

        // 4. The fix: the plan again, in the same comment, without the banner.
        Edit(_origin, "services/api.yaml", api => api.Replace("version: latest", "version: 1.5.1", StringComparison.Ordinal));
        var fixedHead = Commit(_origin, "api: 1.5.1");
        Git(_workspace, "fetch", "-q", "origin", "pr");
        var fourth = await Step("pr-plan.sh", GitHubVariables(fixedHead));
        Assert.True(fourth.Code == 0, fourth.Out + fourth.Err);
        var current = Assert.Single(_github.Comments(Pr));
        Assert.Equal(comment.Id, current.Id);
        Assert.StartsWith("<!-- reconciler-plan part=1 -->\n### Reconciler plan: `production`", current.Body);
        Assert.DoesNotContain("Outdated", current.Body);
        Assert.Contains("<code>~ api</code> upgrade 1.4.2 -&gt; 1.5.1", current.Body);
        Assert.Single(_github.Requests, r => r.StartsWith("POST", StringComparison.Ordinal)); // created once, then updated in place
    }

    [Fact]
    public async Task A_plan_in_parts_is_one_comment_per_part_and_parts_it_no_longer_has_are_deleted()
    {
        Directory.CreateDirectory(_workspace);
        var parts = Enumerable.Range(1, 3).Select(i =>
        {
            var path = Path.Combine(_tmp.Path, $"plan-part-{i:D2}.md");
            File.WriteAllText(path, $"### part {i}\n");
            return path;
        }).ToList();
        var variables = GitHubVariables("unused");
        Assert.Equal(0, (await Step("pr-comment.sh", variables, ["post", .. parts])).Code);
        Assert.Equal(["<!-- reconciler-plan part=1 -->\n### part 1\n", "<!-- reconciler-plan part=2 -->\n### part 2\n", "<!-- reconciler-plan part=3 -->\n### part 3\n"],
            _github.Comments(Pr).Select(c => c.Body));
        var ids = _github.Comments(Pr).Select(c => c.Id).ToList();

        File.WriteAllText(parts[0], "### smaller now\n");
        var (code, stdout, stderr) = await Step("pr-comment.sh", variables, ["post", parts[0]]);
        Assert.True(code == 0, stdout + stderr);
        var left = Assert.Single(_github.Comments(Pr));
        Assert.Equal((ids[0], "<!-- reconciler-plan part=1 -->\n### smaller now\n"), (left.Id, left.Body));

        // A wrong token is refused by the API, and the step fails rather than passing silently.
        Assert.NotEqual(0, (await Step("pr-comment.sh", new(variables) { ["GITHUB_TOKEN"] = "wrong" }, ["post", parts[0]])).Code);
    }

    [Fact]
    public async Task Apply_on_a_locked_environment_exits_6_with_a_clear_message_and_the_key_stays_out_of_the_log()
    {
        OriginWhereMainMovedOn();
        var sha = Git(_workspace, "rev-parse", "HEAD");
        var locked = await Shell(_workspace, "reconciler state lock --env production --owner alice --reason 'db migration' --ttl 1h", []);
        Assert.True(locked.Code == 0, locked.Err);
        const string key = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----";
        var summary = Path.Combine(_tmp.Path, "summary.md");
        var (code, stdout, stderr) = await Step("apply.sh", new()
        {
            ["GITHUB_SHA"] = sha, ["ENVIRONMENT"] = "production", ["DEPLOY_SSH_KEY"] = key, ["GITHUB_STEP_SUMMARY"] = summary,
            ["RUNNER_TEMP"] = Path.Combine(_tmp.Path, "runner_temp"),
        });
        Assert.Equal(6, code);
        Assert.Contains("::error::production is locked or frozen, so " + sha[..12] + " was not applied.", stdout);
        Assert.Contains("locked by alice", stderr);
        Assert.Contains("production is locked or frozen", File.ReadAllText(summary));
        Assert.DoesNotContain("not-a-real-key", stdout + stderr);
    }

    [Theory]
    [InlineData(3, "::error::", "rolled back; the commit is quarantined")]
    [InlineData(8, "::error::", "is quarantined after an earlier failed apply and is not retried")]
    [InlineData(9, "::warning::", "what changed was rolled back and the commit is NOT quarantined. Fix the cause and re-run this job.")]
    public async Task Apply_explains_each_exit_code(int exit, string level, string message)
    {
        // The CLI's exit codes are tested with the CLI; this holds the script to what it says for each one, with a
        // stand-in `reconciler` that exits with that code and records the arguments it was given.
        Directory.CreateDirectory(_workspace);
        var args = Path.Combine(_tmp.Path, "args");
        File.WriteAllText(Path.Combine(_bin, "reconciler"), $"#!/bin/sh\nprintf '%s\\n' \"$@\" > '{args}'\nexit {exit}\n");
        var keyFile = Path.Combine(_tmp.Path, "deploy_key");
        File.WriteAllText(keyFile, "key");
        var (code, stdout, _) = await Step("apply.sh", new() { ["GITHUB_SHA"] = new string('a', 40), ["ENVIRONMENT"] = "production", ["RECONCILER_SSH_KEY_FILE"] = keyFile });
        Assert.Equal(exit, code);
        Assert.Contains(level, stdout);
        Assert.Contains(message, stdout);
        Assert.Equal(["apply", "--yes", "--repo", ".", "--rev", new string('a', 40), "--env", "production", "--ssh-key", keyFile], File.ReadAllLines(args));
    }

    private async Task<(int Code, string Out, string Err)> Step(string script, Dictionary<string, string> environment, string[]? args = null) =>
        await Shell(_workspace, $"bash '{Path.Combine(Scripts, script)}'" + string.Concat((args ?? []).Select(a => $" '{a}'")), environment);

    private async Task<(int Code, string Out, string Err)> Shell(string cwd, string command, Dictionary<string, string> environment)
    {
        var psi = new ProcessStartInfo("bash") { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        psi.Environment["PATH"] = $"{_bin}:{Environment.GetEnvironmentVariable("PATH")}";
        psi.Environment["HOME"] = _tmp.Path;
        foreach (var name in new[] { "RECONCILER_STATE", "CONSUL_HTTP_TOKEN", "GITHUB_TOKEN", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_PATH" }) psi.Environment.Remove(name);
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{command} did not finish in 3 minutes");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    private static string Git(string cwd, params string[] args)
    {
        var psi = new ProcessStartInfo("git") { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["GIT_AUTHOR_NAME"] = psi.Environment["GIT_COMMITTER_NAME"] = "test";
        psi.Environment["GIT_AUTHOR_EMAIL"] = psi.Environment["GIT_COMMITTER_EMAIL"] = "test@example.invalid";
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60))) { p.Kill(); throw new TimeoutException($"git {string.Join(' ', args)}"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"git {string.Join(' ', args)}: {error.Result}");
        return output.Result.Trim();
    }

    private static string Commit(string repo, string message)
    {
        Git(repo, "add", "-A");
        Git(repo, "commit", "-q", "-m", message);
        return Git(repo, "rev-parse", "HEAD");
    }

    private static void Edit(string repo, string file, Func<string, string> change)
    {
        var path = Path.Combine(repo, file);
        var before = File.ReadAllText(path);
        var after = change(before);
        if (after == before) throw new InvalidOperationException($"{file}: the edit changed nothing");
        File.WriteAllText(path, after);
    }
}
