using System.Text;
using Reconciler.Schema.Loading;
using Xunit.Abstractions;

namespace Reconciler.Schema.Tests;

/// <summary>Malformed YAML is reported in the words of the person who wrote it, never in YamlDotNet's internals
/// (issue 15: "while scanning a flow sequence end" for a file without a flow sequence).</summary>
public class YamlSyntaxMessagesTests(ITestOutputHelper output)
{
    private static readonly string[] ParserWords =
        ["while ", "scanning", "parsing", "scalar", "token", "MappingEnd", "SequenceEnd", "StreamEnd", "node", "simple key", "indicator", "violate"];

    [Theory]
    [InlineData("a: ]\n")]
    [InlineData("a: [1, 2\nb: 3\n")]
    [InlineData("a: {x: 1\nb: 2\n")]
    [InlineData("a: \"unclosed\nb: 1\n")]
    [InlineData("a: b: c\n")]
    [InlineData("a:\n  b: 1\n c: 2\n")]
    [InlineData("a:\n  - 1\n - 2\n")]
    [InlineData("a: 1\n- 2\n")]
    [InlineData("a: @x\n")]
    [InlineData("a: `x`\n")]
    [InlineData("a: \"\\q\"\n")]
    [InlineData("a: |\n    x\n  y\n")]
    [InlineData("key without colon\nb: 1\n")]
    [InlineData("a: 1\n...\nb: 2\n")]
    [InlineData("a: 'x\n")]
    [InlineData("]\n")]
    [InlineData("a:\n  b\n  c: 1\n")]
    public void A_syntax_error_names_the_problem_without_parser_internals(string yaml)
    {
        var (_, _, diagnostics) = YamlToJson.Convert(Encoding.UTF8.GetBytes(yaml));
        var error = Assert.Single(diagnostics);
        output.WriteLine($"{yaml.Replace("\n", "\\n")} -> {error.Line}:{error.Column} {error.RuleId}: {error.Message}");
        foreach (var word in ParserWords) Assert.DoesNotContain(word, error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(";", error.Message);   // what is wrong; how to fix it
    }

    [Fact]
    public void An_unknown_parser_message_gets_the_general_message_not_the_parser_text()
    {
        var message = YamlSyntaxMessages.Explain("While frobnicating a widget, found an unexpected gizmo.");
        Assert.DoesNotContain("frobnicating", message);
        Assert.StartsWith("malformed YAML: ", message);
    }
}
