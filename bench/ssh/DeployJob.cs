using System.Diagnostics;
using System.Runtime.InteropServices;
using Reconciler.Engine.Tests.Infrastructure;

namespace Reconciler.Bench.Ssh;

/// <summary>Wall time and controller CPU (user+sys) of one run.</summary>
internal readonly record struct Measured(double Wall, double Cpu)
{
    /// <summary>A run made of child processes: CPU is what the children (and every descendant they waited for) used,
    /// from getrusage(RUSAGE_CHILDREN); every child is waited for before the second reading.</summary>
    public static async Task<Measured> ChildrenAsync(Func<Task> run)
    {
        var before = ChildrenCpu();
        var sw = Stopwatch.StartNew();
        await run();
        return new Measured(sw.Elapsed.TotalSeconds, ChildrenCpu() - before);
    }

    /// <summary>A run inside this process (the driver alone): this process's CPU.</summary>
    public static async Task<Measured> ThisProcessAsync(Func<Task> run)
    {
        var before = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        await run();
        return new Measured(sw.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - before).TotalSeconds);
    }

    private static double ChildrenCpu()
    {
        if (getrusage(-1 /* RUSAGE_CHILDREN */, out var usage) != 0) throw new InvalidOperationException("getrusage failed");
        return usage.UserSec + usage.UserUsec / 1e6 + usage.SysSec + usage.SysUsec / 1e6;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSec, UserUsec, SysSec, SysUsec;
        // maxrss .. nivcsw: not read
        public long F0, F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12, F13;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrusage(int who, out RUsage usage);
}

/// <summary>What every mode of the benchmark shares: the artifact, the apply repo, the check that the whole job was done.</summary>
internal sealed class DeployJob(SshdFleet fleet, string work)
{
    public static string ApplyPath(string tag) => $"/srv/bench/apply-{tag}/api";

    /// <summary>200 KB of incompressible bytes plus the restart script (it records the release it started, which the
    /// health check compares): a new artifact (new checksum) every run, so every run uploads.</summary>
    public TestArtifact NewArtifact(int round, string tag)
    {
        var random = new Random(round * 31 + tag.GetHashCode(StringComparison.Ordinal));
        var blob = new byte[200 * 1024];
        random.NextBytes(blob);
        return TestArtifact.Create(Path.Combine(work, $"{tag}-{round}"), "app.tar.gz", new Dictionary<string, string>
        {
            ["bin/restart"] = "#!/bin/sh\nbasename \"$(pwd -P)\" > \"$RECONCILER_DEPLOY_PATH/restarted\"\n",
            ["data.bin"] = Convert.ToBase64String(blob),
        });
    }

    /// <summary>The apply repo of one mode, with this round's commit (a new version and artifact).</summary>
    public async Task<string> ApplyRepoAsync(string tag, string maxParallel, int round)
    {
        var repo = Path.Combine(work, "repo-" + tag);
        if (!Directory.Exists(repo))
        {
            foreach (var dir in new[] { "environments", "services", "artifacts" }) Directory.CreateDirectory(Path.Combine(repo, dir));
            await File.WriteAllTextAsync(Path.Combine(repo, "reconciler.yaml"), $$"""
                apiVersion: reconciler/v1
                kind: Repository
                state: sqlite:.reconciler/state.db
                defaults:
                  keepReleases: 5
                  strategy: { type: rolling, maxParallel: "{{maxParallel}}" }
                  health:
                    interval: 100ms
                    consecutivePasses: 1
                    minHealthy: 0s
                    deadline: 10s

                """);
            await File.WriteAllTextAsync(Path.Combine(repo, "environments", "bench.yaml"),
                "apiVersion: reconciler/v1\nkind: Environment\nname: bench\nhostGroups:\n  app:\n    hosts:\n" +
                string.Concat(fleet.Hosts.Select(h =>
                    $"      - {{ name: {h.Name}, address: {h.Address}, port: {h.Port}, user: {h.User}, hostKey: \"{h.HostKey}\" }}\n")));
            await File.WriteAllTextAsync(Path.Combine(repo, ".gitignore"), ".reconciler/\n");
            await RunAsync("git", repo, ["init", "-q"]);
        }
        var artifact = NewArtifact(round, tag);
        File.Copy(artifact.Path, Path.Combine(repo, "artifacts", $"app-{round}.tar.gz"), overwrite: true);
        await File.WriteAllTextAsync(Path.Combine(repo, "services", "api.yaml"), $$"""
            apiVersion: reconciler/v1
            kind: Service
            name: api
            version: 1.{{round}}.0
            artifact: { url: artifacts/app-{{round}}.tar.gz, sha256: {{artifact.Sha256}} }
            hostGroup: app
            deploy: { driver: ssh, path: {{ApplyPath(tag)}}, restartCommand: ./bin/restart }
            config: { LOG_LEVEL: info }
            health:
              checks:
                - command: { run: 'test "$(cat ${deploy.path}/restarted)" = ${release.id}', timeout: 5s }

            """);
        await RunAsync("git", repo, ["add", "-A"]);
        await RunAsync("git", repo, ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", $"api 1.{round}.0"]);
        return repo;
    }

    /// <summary>Runs a process to its end; throws with its output when it fails. Returns its stdout.</summary>
    public static async Task<string> RunAsync(string file, string cwd, IEnumerable<string> arguments, (string Name, string Value)[]? environment = null)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? []) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', psi.ArgumentList)} exited {p.ExitCode}: {await stderr}{await stdout}");
        return await stdout;
    }

    /// <summary>Every mode must have done the whole job on every host, or its timing means nothing: current is the new
    /// release, the restart started it, at most 5 releases are kept.</summary>
    public void Verify(string deployPath, string id, bool prefix = false)
    {
        for (var i = 0; i < fleet.Hosts.Length; i++)
        {
            var current = new FileInfo(fleet.OnHost(i, deployPath + "/current")).LinkTarget;
            if (prefix ? current?.StartsWith($"releases/{id}", StringComparison.Ordinal) != true : current != $"releases/{id}")
                throw new InvalidOperationException($"host {i + 1}: current is {current}, expected releases/{id}");
            var restarted = File.ReadAllText(fleet.OnHost(i, deployPath + "/restarted")).Trim();
            if ("releases/" + restarted != current) throw new InvalidOperationException($"host {i + 1}: the restart started {restarted}, current is {current}");
            var releases = Directory.GetDirectories(fleet.OnHost(i, deployPath + "/releases")).Length;
            if (releases > 5) throw new InvalidOperationException($"host {i + 1}: {releases} releases kept, expected at most 5");
        }
    }
}
