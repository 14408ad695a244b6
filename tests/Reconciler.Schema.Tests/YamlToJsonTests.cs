using System.Text;
using Newtonsoft.Json.Linq;
using Reconciler.Schema.Loading;

namespace Reconciler.Schema.Tests;

public class YamlToJsonTests
{
    [Theory]
    [InlineData("v: 1.10", JTokenType.Float, "1.10")]
    [InlineData("v: 8080", JTokenType.Integer, "8080")]
    [InlineData("v: 0x1F", JTokenType.Integer, "0x1F")]
    [InlineData("v: true", JTokenType.Boolean, "true")]
    [InlineData("v: ~", JTokenType.Null, "~")]
    [InlineData("v: yes", JTokenType.String, null)]
    [InlineData("v: \"1.10\"", JTokenType.String, null)]
    [InlineData("v: '8080'", JTokenType.String, null)]
    [InlineData("v: !!str 1.10", JTokenType.String, null)]
    [InlineData("v: 1.4.2", JTokenType.String, null)]
    [InlineData("v: 2026-12-24T00:00:00Z", JTokenType.String, null)]
    public void Plain_scalars_follow_the_yaml_1_2_core_schema_and_keep_their_source_text(string yaml, JTokenType type, string? raw)
    {
        var (root, nodes, diagnostics) = YamlToJson.Convert(Encoding.UTF8.GetBytes(yaml));

        Assert.Empty(diagnostics);
        Assert.Equal(type, root!["v"]!.Type);
        Assert.Equal(raw, nodes["/v"].Raw);
    }

    [Fact]
    public void Every_node_maps_to_its_line_and_column()
    {
        var yaml = "a:\n  b: [x, {c: 1}]\n  \"d/e~f\": g\nlist:\n  - one\n  - two\n";
        var (_, nodes, _) = YamlToJson.Convert(Encoding.UTF8.GetBytes(yaml));

        Assert.Equal((1, 1), (nodes[""].Line, nodes[""].Column));
        Assert.Equal((2, 6), (nodes["/a/b"].Line, nodes["/a/b"].Column));
        Assert.Equal((2, 3), (nodes["/a/b"].KeyLine, nodes["/a/b"].KeyColumn));
        Assert.Equal((2, 10), (nodes["/a/b/1"].Line, nodes["/a/b/1"].Column));
        Assert.Equal((2, 14), (nodes["/a/b/1/c"].Line, nodes["/a/b/1/c"].Column));
        Assert.Equal((3, 12), (nodes["/a/d~1e~0f"].Line, nodes["/a/d~1e~0f"].Column));
        Assert.Equal((6, 5), (nodes["/list/1"].Line, nodes["/list/1"].Column));
    }

    [Fact]
    public void Deep_nesting_is_refused_instead_of_overflowing_the_stack()
    {
        var yaml = new string('[', 10_000) + new string(']', 10_000);

        var (root, _, diagnostics) = YamlToJson.Convert(Encoding.UTF8.GetBytes(yaml));

        Assert.Null(root);
        Assert.Equal("yaml.too-deep", Assert.Single(diagnostics).RuleId);
    }

    [Fact]
    public void A_utf8_byte_order_mark_is_accepted_and_utf16_is_refused()
    {
        var bom = YamlToJson.Convert([0xEF, 0xBB, 0xBF, .. "a: b"u8]);
        var utf16 = YamlToJson.Convert([0xFF, 0xFE, (byte)'a', 0]);

        Assert.Empty(bom.Diagnostics);
        Assert.Equal("b", (string?)bom.Root!["a"]);
        Assert.Equal("file.encoding", Assert.Single(utf16.Diagnostics).RuleId);
    }

    [Fact]
    public void A_tab_after_the_indentation_is_fine()
    {
        var (root, _, diagnostics) = YamlToJson.Convert("a:\tb\nc: \"x\ty\"\n"u8.ToArray());

        Assert.Empty(diagnostics);
        Assert.Equal("x\ty", (string?)root!["c"]);
    }
}
