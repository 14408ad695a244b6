using System.Diagnostics;
using System.Text.RegularExpressions;
using Reconciler.Engine.Tests.Git;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Cli.Tests.EndToEnd;

/// <summary>
/// Both ways to install what scripts/publish.sh builds, each from an empty HOME: the .NET tool package from a local
/// folder feed (`dotnet tool install --tool-path`, only that feed configured), and the self-contained tarball, checked
/// against its sha256, unpacked and run without .NET on PATH. Each installed CLI scaffolds, validates and plans a repo.
/// scripts/test.sh publishes the release (the Native AOT tarball) once and names it in RECONCILER_TEST_DIST; run
/// alone, the class publishes for itself without the AOT or ReadyToRun compile (PUBLISH_AOT=false,
/// PUBLISH_READY_TO_RUN=false), which do not change how the packages install and take minutes.
/// </summary>
[Trait("Category", "EndToEnd")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class InstallTests(InstallTests.Published published) : IClassFixture<InstallTests.Published>
{
    public sealed class Published : IDisposable
    {
        public TempDir Dir { get; } = new();
        public string Out { get; }
        public string Output { get; }
        /// <summary>The tarball holds the Native AOT executable (the release build) rather than the runtime and dlls.</summary>
        public bool NativeAot { get; }

        public Published()
        {
            if (Environment.GetEnvironmentVariable("RECONCILER_TEST_DIST") is { Length: > 0 } dist)
            {
                (Out, Output, NativeAot) = (dist, $"published by scripts/test.sh into {dist}", true);
                return;
            }
            Out = Path.Combine(Dir.Path, "dist");
            var (code, stdout, stderr) = Run(GitFixture.ProjectRoot(), "bash", ["scripts/publish.sh", Out],
                new() { ["PUBLISH_AOT"] = "false", ["PUBLISH_READY_TO_RUN"] = "false" }, TimeSpan.FromMinutes(20));
            if (code != 0) throw new InvalidOperationException($"publish.sh failed ({code}): {stdout}\n{stderr}");
            Output = stdout;
        }

        public void Dispose() => Dir.Dispose();
    }

    private static readonly string Version = Regex.Match(
        File.ReadAllText(Path.Combine(GitFixture.ProjectRoot(), "src/Reconciler/Cli/Reconciler.Cli.csproj")), "<Version>(.*?)</Version>").Groups[1].Value;

    private string EmptyHome()
    {
        var home = Path.Combine(published.Dir.Path, "home-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(home);
        return home;
    }

    [Fact]
    public void The_tool_package_installs_from_a_local_folder_feed_into_an_empty_home_and_runs()
    {
        var home = EmptyHome();
        var nupkg = Path.Combine(published.Out, $"reconciler.{Version}.nupkg");
        Assert.True(File.Exists(nupkg), published.Output);
        var config = Path.Combine(home, "nuget.config");
        File.WriteAllText(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{published.Out}" />
              </packageSources>
            </configuration>
            """);
        var env = new Dictionary<string, string>
        {
            ["HOME"] = home, ["DOTNET_CLI_HOME"] = home, ["NUGET_PACKAGES"] = Path.Combine(home, ".nuget", "packages"),
            ["DOTNET_NOLOGO"] = "1", ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        };
        var tools = Path.Combine(home, "tools");
        var install = Run(home, "dotnet", ["tool", "install", "reconciler", "--tool-path", tools, "--configfile", config], env, TimeSpan.FromMinutes(5));
        Assert.True(install.Code == 0, install.Out + install.Err);
        Assert.Contains($"reconciler' (version '{Version}')", install.Out);

        var reconciler = Path.Combine(tools, "reconciler");
        AssertRunsFromScratch(reconciler, home, env);
    }

    [Fact]
    public void The_tarball_matches_its_sha256_unpacks_and_runs_without_dotnet()
    {
        var home = EmptyHome();
        var name = $"reconciler-{Version}-linux-x64";
        var check = Run(published.Out, "sha256sum", ["--check", "--strict", $"{name}.tar.gz.sha256"], [], TimeSpan.FromMinutes(1));
        Assert.True(check.Code == 0, check.Out + check.Err);
        var opt = Path.Combine(home, "opt");
        Directory.CreateDirectory(opt);
        var untar = Run(home, "tar", ["-xzf", Path.Combine(published.Out, $"{name}.tar.gz"), "-C", opt], [], TimeSpan.FromMinutes(2));
        Assert.True(untar.Code == 0, untar.Err);
        var dir = Path.Combine(opt, name);
        if (published.NativeAot)
        {
            // One native executable: no runtime, no managed assemblies, no debug symbols.
            Assert.Empty(Directory.GetFiles(dir, "*.dll"));
            Assert.False(File.Exists(Path.Combine(dir, "libcoreclr.so")));
            Assert.Empty(Directory.GetFiles(dir, "*.dbg"));
        }
        else Assert.True(File.Exists(Path.Combine(dir, "libcoreclr.so")), "the runtime is in the tarball (self-contained)");
        Assert.Empty(Directory.GetFiles(dir, "*.pdb"));

        // No .NET anywhere it could look: PATH is one empty folder (on merged-/usr Debian, /bin holds dotnet too), and
        // DOTNET_ROOT points nowhere.
        Directory.CreateDirectory(Path.Combine(home, "empty-bin"));
        var bare = new Dictionary<string, string> { ["HOME"] = home, ["PATH"] = Path.Combine(home, "empty-bin"), ["DOTNET_ROOT"] = Path.Combine(home, "no-dotnet") };
        AssertRunsFromScratch(Path.Combine(dir, "reconciler"), home, bare);

        // The CI example's install step takes the same tarball (and checks the sha256 beside it).
        var runnerTemp = Path.Combine(home, "runner");
        var ci = Run(home, "bash", [Path.Combine(GitFixture.ProjectRoot(), "examples/ci/scripts/install-reconciler.sh")],
            new() { ["HOME"] = home, ["RUNNER_TEMP"] = runnerTemp, ["RECONCILER_TARBALL"] = Path.Combine(published.Out, $"{name}.tar.gz"),
                    ["GITHUB_PATH"] = Path.Combine(home, "github_path") }, TimeSpan.FromMinutes(2));
        Assert.True(ci.Code == 0, ci.Out + ci.Err);
        Assert.Equal(Path.Combine(runnerTemp, "reconciler"), File.ReadAllText(Path.Combine(home, "github_path")).Trim());
        Assert.Contains($"{name}.tar.gz: OK\n", ci.Out);
        Assert.Contains($"\nreconciler {Version} (commit ", ci.Out);

        // A tarball that does not match its checksum is not installed.
        var tampered = Path.Combine(home, "tampered");
        Directory.CreateDirectory(tampered);
        File.Copy(Path.Combine(published.Out, $"{name}.tar.gz.sha256"), Path.Combine(tampered, $"{name}.tar.gz.sha256"));
        File.WriteAllText(Path.Combine(tampered, $"{name}.tar.gz"), "not the tarball");
        var refused = Run(home, "bash", [Path.Combine(GitFixture.ProjectRoot(), "examples/ci/scripts/install-reconciler.sh")],
            new() { ["HOME"] = home, ["RUNNER_TEMP"] = Path.Combine(home, "runner2"), ["RECONCILER_TARBALL"] = Path.Combine(tampered, $"{name}.tar.gz") }, TimeSpan.FromMinutes(1));
        Assert.NotEqual(0, refused.Code);
        Assert.False(File.Exists(Path.Combine(home, "runner2", "reconciler")));
    }

    /// <summary>--version names this build's commit; init, validate and plan work in a new repo.</summary>
    private static void AssertRunsFromScratch(string reconciler, string home, Dictionary<string, string> env)
    {
        var version = Run(home, reconciler, ["--version"], env, TimeSpan.FromMinutes(1));
        Assert.True(version.Code == 0, version.Out + version.Err);
        var head = Run(GitFixture.ProjectRoot(), "git", ["rev-parse", "HEAD"], [], TimeSpan.FromMinutes(1)).Out.Trim();
        Assert.Equal($"reconciler {Version} (commit {head})\n", version.Out);

        var repo = Path.Combine(home, "infra");
        Assert.Equal(0, Run(home, reconciler, ["init", repo], env, TimeSpan.FromMinutes(1)).Code);
        var validate = Run(repo, reconciler, ["validate"], env, TimeSpan.FromMinutes(1));
        Assert.True(validate.Code == 0, validate.Out + validate.Err);
        var plan = Run(repo, reconciler, ["plan", "--detailed-exitcode", "--no-color"], env, TimeSpan.FromMinutes(1));
        Assert.True(plan.Code == 2, plan.Out + plan.Err);
        Assert.Contains("+ hello  create 1.0.0", plan.Out);
    }

    private static (int Code, string Out, string Err) Run(string cwd, string file, string[] args, Dictionary<string, string> env, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
