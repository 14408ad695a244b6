using System.Collections.Immutable;
using System.Text;
using Reconciler.Diff.Live;
using Xunit;

namespace Reconciler.Diff.Tests.Live;

/// <summary>The packed form of a field snapshot: what the planner compares converged services by, and what a service
/// read from a store holds until its fields are read.</summary>
public class PackedFieldsTests
{
    private static ImmutableSortedDictionary<string, string> Map(params (string Key, string Value)[] pairs) =>
        pairs.ToImmutableSortedDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    [Fact]
    public void Pairs_round_trip_and_equal_bytes_mean_equal_pairs()
    {
        var fields = Map(("a", ""), ("config.X", "ü €𝄞"), ("config.\u0000", "nul\u0000inside"), ("version", "1.0.0"));
        var packed = PackedFields.Pack(fields);
        Assert.True(packed.IsExact);
        Assert.Equal(fields, packed.Unpack());
        Assert.True(packed.SameAs(PackedFields.Pack(fields).Bytes, true));

        // Boundaries are part of the packing: moving text between path and value, or between pairs, changes the bytes.
        Assert.False(packed.SameAs(PackedFields.Pack(fields.SetItem("version", "1.0.0 ")).Bytes, true));
        Assert.NotEqual(PackedFields.Pack(Map(("ab", "c"))).Bytes.ToArray(), PackedFields.Pack(Map(("a", "bc"))).Bytes.ToArray());
        Assert.NotEqual(PackedFields.Pack(Map(("a", "b"), ("c", "d"))).Bytes.ToArray(), PackedFields.Pack(Map(("a", "b,c"), ("d", ""))).Bytes.ToArray());
        Assert.False(packed.SameAs(packed.Bytes, exact: false));
    }

    [Fact]
    public void The_writer_reports_paths_that_do_not_ascend_and_unpack_refuses_a_repeated_path()
    {
        var writer = new PackedFields.Writer();
        writer.Add("b", "1");
        writer.Add("a", "2");
        Assert.False(writer.PathsAscending);
        writer.Reset();
        writer.Add("a", "1");
        writer.Add("a", "2");
        Assert.False(writer.PathsAscending);
        Assert.Throws<InvalidDataException>(() => writer.ToPacked().Unpack());
        writer.Reset();
        writer.Append("con");
        writer.Append("fig.A");
        writer.EndString();
        writer.AppendUtf8(Encoding.UTF8.GetBytes("x"));
        writer.EndString();
        writer.Add("config.B", "y");
        Assert.True(writer.PathsAscending);
        Assert.Equal(Map(("config.A", "x"), ("config.B", "y")), writer.ToPacked().Unpack());
    }

    [Fact]
    public void Text_with_a_lone_surrogate_is_packed_inexactly_and_never_unpacked()
    {
        var packed = PackedFields.Pack(Map(("a", "x\ud800")));
        Assert.False(packed.IsExact);
        Assert.False(packed.SameAs(packed.Bytes, true));
        Assert.Throws<InvalidOperationException>(packed.Unpack);
        Assert.Throws<ArgumentException>(() => LiveService.FromPacked("a", "1", "r", "h", "c", [], packed, ImmutableSortedDictionary<string, LiveHost>.Empty));
    }

    [Fact]
    public void A_packed_live_service_builds_its_fields_once_and_on_demand()
    {
        var fields = Map(("config.A", "1"), ("version", "1.0.0"));
        var hosts = ImmutableSortedDictionary<string, LiveHost>.Empty;
        var packed = LiveService.FromPacked("api", "1.0.0", "r", "h", "c", [], PackedFields.Pack(fields), hosts);
        var copy = packed with { };
        Assert.Equal(packed, copy);   // a copy shares the packing, so it builds the same dictionary
        var built = packed.Fields;
        Assert.Equal(fields, built);
        Assert.Same(StringComparer.Ordinal, built.KeyComparer);
        Assert.Same(built, packed.Fields);

        // Replacing the fields drops the packing.
        var changed = packed with { Fields = fields.SetItem("version", "2.0.0") };
        Assert.Equal("2.0.0", changed.Fields["version"]);
        Assert.Equal(PackedFields.Pack(changed.Fields).Bytes.ToArray(), changed.GetPackedFields().Bytes.ToArray());

        // A service built from a dictionary packs it on first use, in dictionary order.
        var plain = new LiveService("api", "1.0.0", "r", "h", "c", [], fields, hosts);
        Assert.Equal(packed.GetPackedFields().Bytes.ToArray(), plain.GetPackedFields().Bytes.ToArray());
    }
}
