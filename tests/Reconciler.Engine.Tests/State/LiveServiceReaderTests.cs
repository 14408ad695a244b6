using System.Collections.Immutable;
using System.Text.Json;
using Reconciler.Diff.Live;
using Reconciler.State;
using Xunit;

namespace Reconciler.Engine.Tests.State;

public class LiveServiceReaderTests
{
    private static ImmutableSortedDictionary<string, T> Map<T>(params (string Key, T Value)[] items) =>
        items.ToImmutableSortedDictionary(i => i.Key, i => i.Value, StringComparer.Ordinal);

    public static TheoryData<string> StoredServices()
    {
        LiveService[] services =
        [
            new("api", "1.5.0", "1.5.0-0123456789", new string('a', 64), new string('c', 40), ["auth", "db-migrate"],
                Map(("config.DB_PASSWORD", "secret(env:DB_PASSWORD)"), ("config.LOG_LEVEL", "info"), ("health.checks[0]", "http http://${host.address}:8080/health expect 200 timeout 2s")),
                Map(("web-1", new LiveHost("web-1", "1.5.0-0123456789", "1.4.2-9876543210")), ("web-2", new LiveHost("web-2", "1.5.0-0123456789", null)))),
            new("config-only", "0.1.0", "0.1.0-ffffffffff", new string('b', 64), "working-tree", [], Map<string>(), Map<LiveHost>()),
            // Keys and values that need escaping, non-ASCII text, keys whose ordinal and cultural orders differ.
            new("quoting", "2.0.0-rc.1+build.5", "r", "h", "c", ["a"],
                Map(("config.B", "line\nbreak \"quoted\" \\ back\tslash"), ("config.a", "ünïcødé ✓ <&>"), ("config._", ""), ("config.Z", "\u0001")),
                Map(("h\"1", new LiveHost("h\"1", "r", null)))),
        ];
        var data = new TheoryData<string>();
        foreach (var s in services) data.Add(StateJson.Serialize(s));
        return data;
    }

    [Theory]
    [MemberData(nameof(StoredServices))]
    public void Reads_what_the_store_writes_exactly_as_the_serializer_does(string stored)
    {
        var bySerializer = JsonSerializer.Deserialize<LiveService>(stored, ReconcilerJson.Options)!;
        var byReader = LiveServiceReader.Read(System.Text.Encoding.UTF8.GetBytes(stored));

        Assert.Equal(StateJson.Serialize(bySerializer), StateJson.Serialize(byReader));
        Assert.Equal(stored, StateJson.Serialize(byReader));
        Assert.Same(StringComparer.Ordinal, byReader.Fields.KeyComparer);
        Assert.Same(StringComparer.Ordinal, byReader.Hosts.KeyComparer);
        Assert.Equal(bySerializer.Fields.Keys.Order(StringComparer.Ordinal), byReader.Fields.Keys);

        // The stores hand over the stored bytes: the same service, its fields held packed until read.
        var fromBytes = LiveServiceReader.Read(System.Text.Encoding.UTF8.GetBytes(stored));
        Assert.Equal(PackedFields.Pack(bySerializer.Fields.WithComparers(StringComparer.Ordinal)).Bytes.ToArray(), fromBytes.GetPackedFields().Bytes.ToArray());
        Assert.Equal(stored, StateJson.Serialize(fromBytes));
    }

    [Fact]
    public void Fields_stored_out_of_order_or_escaped_read_as_the_same_snapshot()
    {
        var service = LiveServiceReader.Read("""{"name":"a","version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{"version":"1","config.\u0041":"\u00fc\n","artifact.url":"u"},"hosts":{}}"""u8);

        Assert.Equal(Map(("artifact.url", "u"), ("config.A", "ü\n"), ("version", "1")), service.Fields);
        Assert.Equal(PackedFields.Pack(service.Fields).Bytes.ToArray(), service.GetPackedFields().Bytes.ToArray());
    }

    /// <summary>Other stored values are read with options that build sorted dictionaries on the ordinal comparer
    /// (no normalising pass after reading): keys that sort differently by culture must come back in ordinal order.</summary>
    [Fact]
    public void Stored_history_comes_back_with_ordinal_dictionaries()
    {
        var entry = new HistoryEntry("h1", "prod", "c", null, "ci", DateTimeOffset.UnixEpoch, null, ApplyResult.Succeeded,
            Map(("b", "x"), ("B", "y"), ("a-b", "z"), ("aB", "w")), null);

        var read = StateJson.Deserialize<HistoryEntry>(StateJson.Serialize(entry), "test");

        Assert.Same(StringComparer.Ordinal, read.ServiceOutcomes.KeyComparer);
        Assert.Equal(["B", "a-b", "aB", "b"], read.ServiceOutcomes.Keys);
    }

    [Fact]
    public void Bytes_that_are_not_UTF8_are_a_format_error_not_a_crash()
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes("""{"name":"aX","version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{},"hosts":{}}""");
        bytes[Array.IndexOf(bytes, (byte)'X')] = 0xFF;

        Assert.ThrowsAny<JsonException>(() => LiveServiceReader.Read(bytes));
        // ... also inside the fields, which are packed without decoding: checked as they are read, not when first used.
        var inFields = System.Text.Encoding.UTF8.GetBytes("""{"name":"a","version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{"k":"aX"},"hosts":{}}""");
        inFields[Array.IndexOf(inFields, (byte)'X')] = 0xFF;
        Assert.ThrowsAny<JsonException>(() => LiveServiceReader.Read(inFields));
        inFields[Array.IndexOf(inFields, (byte)0xFF)] = 0xC3;   // a truncated two-byte sequence
        Assert.ThrowsAny<JsonException>(() => LiveServiceReader.Read(inFields));
    }

    [Fact]
    public void A_host_whose_release_is_unknown_keeps_why_and_a_known_one_stores_no_such_property()
    {
        var hosts = Map(("web-1", new LiveHost("web-1", "r2", "r1")), ("web-2", new LiveHost("web-2", "r2", "r1", "activate timed out after 5m")));
        var bytes = StateJson.SerializeBytes(new LiveService("a", "1.0.0", "r2", "h", "c", [], Map(("config.PORT", "8080")), hosts));

        var read = LiveServiceReader.Read(bytes);

        Assert.Null(read.Hosts["web-1"].UnknownBecause);
        Assert.Equal("activate timed out after 5m", read.Hosts["web-2"].UnknownBecause);
        Assert.Equal(1, System.Text.Encoding.UTF8.GetString(bytes).Split("unknownBecause").Length - 1);   // older readers see it only where it is set
    }

    [Fact]
    public void Pooled_strings_are_the_same_text_across_services()
    {
        var first = LiveServiceReader.Read(StateJson.SerializeBytes(new LiveService("a", "1.0.0", "r1", "h", "c", [], Map(("config.PORT", "8080")), Map<LiveHost>())));
        var second = LiveServiceReader.Read(StateJson.SerializeBytes(new LiveService("b", "1.0.0", "r2", "h", "c", [], Map(("config.PORT", "9090")), Map<LiveHost>())));

        Assert.Equal("8080", first.Fields["config.PORT"]);
        Assert.Equal("9090", second.Fields["config.PORT"]);
        Assert.Same(first.Version, second.Version);
        Assert.Same(first.Commit, second.Commit);
    }

    [Theory]
    [InlineData("""{"name":"a","version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{},"hosts":{},"extra":1}""", "unknown property 'extra'")]
    [InlineData("""{"version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{},"hosts":{}}""", "missing property 'name'")]
    [InlineData("""{"name":"a","name":"b","version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{},"hosts":{}}""", "duplicate property 'name'")]
    [InlineData("""{"name":1,"version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{},"hosts":{}}""", "expected a string")]
    [InlineData("""{"name":"a","version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{"k":"1","k":"2"},"hosts":{}}""", "duplicate path 'k' in the fields")]
    [InlineData("""{"name":"a","version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{"k":"1","j":"2","k":"3"},"hosts":{}}""", "duplicate path 'k' in the fields")]
    [InlineData("""{"name":"a","version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{"k":1},"hosts":{}}""", "expected a string")]
    [InlineData("""{"name":"a","version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{"k":"\ud800"},"hosts":{}}""", "")]
    [InlineData("""{"name":"a","version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{},"hosts":{"h":{"host":"h"}}}""", "missing property 'activeRelease'")]
    [InlineData("""{"name":"a","version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{},"hosts":{"h":{"host":"h","activeRelease":"r","x":"y"}}}""", "unknown or duplicate property 'x'")]
    [InlineData("""{"name":"a","version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{},"hosts":{}} []""", "")]
    [InlineData("""{"name":"a","version":"1","releaseId":"r","configHash":"h","commit":"c","fields":{""", "")]
    [InlineData("""[]""", "expected StartObject")]
    [InlineData("", "")]
    public void A_damaged_stored_service_is_reported_as_unavailable_state_naming_where_it_is(string stored, string reason)
    {
        var e = Assert.Throws<StateStoreUnavailableException>(() => StateJson.Deserialize<LiveService>(stored, "test.db services[prod/a]"));

        Assert.Contains("stored value at test.db services[prod/a] is not valid LiveService JSON", e.Message);
        Assert.Contains(reason, e.Message);
    }
}
