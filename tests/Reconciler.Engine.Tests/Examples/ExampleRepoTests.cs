using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Git;
using Xunit;

namespace Reconciler.Engine.Tests.Examples;

public sealed partial class ExampleRepoTests
{
    private static readonly string Example = Path.Combine(GitFixture.ProjectRoot(), "examples", "infra-repo");

    [Fact]
    public async Task Package_script_reproduces_the_committed_artifacts_byte_for_byte()
    {
        using var outDir = new TempDir();
        var psi = new ProcessStartInfo("bash", [Path.Combine(Example, "package.sh"), outDir.Path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        var stdoutTask = process.StandardOutput.ReadToEndAsync();
        var stderrTask = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { process.Kill(entireProcessTree: true); throw new Xunit.Sdk.XunitException("package.sh did not finish within 60 s"); }
        var stdout = await stdoutTask;
        var stderr = await stderrTask;
        Assert.True(process.ExitCode == 0, $"package.sh failed: {stderr}");

        var built = Directory.GetFiles(outDir.Path, "*.tar.gz").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        var committed = Directory.GetFiles(Path.Combine(Example, "artifacts"), "*.tar.gz").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(committed, built);
        foreach (var name in built)
            Assert.True(File.ReadAllBytes(Path.Combine(outDir.Path, name!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(Example, "artifacts", name!))),
                $"{name}: package.sh output differs from the committed artifact; run examples/infra-repo/package.sh and commit");
        foreach (var name in built)
            Assert.Contains($"{Sha256(Path.Combine(outDir.Path, name!))}  {name}", stdout);
    }

    [Fact]
    public void Every_artifact_sha256_in_the_services_matches_its_file()
    {
        var checkedCount = 0;
        foreach (var yaml in Directory.GetFiles(Path.Combine(Example, "services"), "*.yaml"))
        {
            foreach (Match m in ArtifactPattern().Matches(File.ReadAllText(yaml)))
            {
                var file = Path.Combine(Example, m.Groups["url"].Value);
                Assert.True(File.Exists(file), $"{Path.GetFileName(yaml)}: artifact {m.Groups["url"].Value} is missing");
                Assert.True(Sha256(file) == m.Groups["sha"].Value, $"{Path.GetFileName(yaml)}: sha256 of {m.Groups["url"].Value} does not match");
                checkedCount++;
            }
        }
        Assert.True(checkedCount >= 7, $"expected at least 7 artifact references, found {checkedCount}");
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [GeneratedRegex(@"url: (?<url>artifacts/\S+\.tar\.gz)\s*\n\s*sha256: (?<sha>[0-9a-f]{64})")]
    private static partial Regex ArtifactPattern();
}
