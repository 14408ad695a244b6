using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using Reconciler.Schema.Loading;

namespace Reconciler.Schema.Tests;

/// <summary>docs/format.md is the reference users copy from: its examples must pass their schema.</summary>
public partial class FormatDocTests
{
    [Theory]
    [InlineData("## reconciler.yaml", "Repository")]
    [InlineData("## environments/NAME.yaml", "Environment")]
    [InlineData("## services/NAME.yaml", "Service")]
    [InlineData("## toggles/NAME.yaml", "Toggle")]
    public void The_example_in_each_section_passes_its_schema(string heading, string kind)
    {
        var doc = File.ReadAllText(DocPath());
        var section = doc[(doc.IndexOf(heading + "\n", StringComparison.Ordinal) + heading.Length)..];
        var example = YamlBlock().Match(section).Groups[1].Value;

        var parsed = RepoLoader.ParseAndValidate(Encoding.UTF8.GetBytes(example), kind);

        Assert.NotNull(parsed.Root);
        Assert.Equal("", string.Join("\n", parsed.Diagnostics.Select(d => d.WithFile(heading).ToString())));
    }

    [GeneratedRegex("```yaml\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex YamlBlock();

    private static string DocPath([CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "docs", "format.md");
}
