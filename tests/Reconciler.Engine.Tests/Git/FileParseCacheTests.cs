using Xunit;
using System.Text;
using Reconciler.Git;
using Reconciler.Testing;

namespace Reconciler.Engine.Tests.Git;

public sealed class FileParseCacheTests
{
    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void Entries_survive_a_new_process()
    {
        using var dir = new TempDir();
        var first = new FileParseCache(dir.Path);
        Assert.False(first.TryGet("aaaa", out _));
        first.Put("aaaa", Bytes("parsed a"));
        first.Put("bbbb", Bytes(""));
        Assert.True(first.Flush());

        var second = new FileParseCache(dir.Path);
        Assert.True(second.TryGet("aaaa", out var a));
        Assert.Equal("parsed a", Encoding.UTF8.GetString(a.Span));
        Assert.True(second.TryGet("bbbb", out var b));
        Assert.True(b.IsEmpty);
        Assert.False(second.TryGet("cccc", out _));
        Assert.Equal(2, second.Hits);
        Assert.Equal(1, second.Misses);
        Assert.Equal([FileParseCache.PackFileName], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void A_cache_that_flushes_again_writes_only_what_it_added_since_into_the_delta_pack()
    {
        // The daemon keeps one cache and flushes once per commit.
        using var dir = new TempDir();
        var cache = new FileParseCache(dir.Path);
        for (var i = 0; i < 100; i++) cache.Put($"base{i}", new byte[10_000]);
        cache.Flush();
        Assert.Equal(0, cache.Added);
        var mainPack = File.ReadAllBytes(cache.PackPath);

        cache.Put("commit2", Bytes("second commit's file"));
        Assert.Equal(1, cache.Added);
        cache.Flush();
        cache.Put("commit3", Bytes("third commit's file"));
        cache.Flush();

        Assert.Equal(mainPack, File.ReadAllBytes(cache.PackPath));   // not folded again: both went to the delta pack
        Assert.True(cache.TryGet("commit2", out var second));
        Assert.Equal("second commit's file", Encoding.UTF8.GetString(second.Span));
        var reader = new FileParseCache(dir.Path);
        Assert.True(reader.TryGet("commit2", out _));
        Assert.True(reader.TryGet("commit3", out _));
        Assert.True(reader.TryGet("base42", out _));
    }

    [Fact]
    public void A_flush_keeps_older_entries_and_adds_new_ones()
    {
        using var dir = new TempDir();
        var first = new FileParseCache(dir.Path);
        first.Put("aaaa", Bytes("a"));
        first.Flush();
        var second = new FileParseCache(dir.Path);
        second.Put("bbbb", Bytes("b"));
        second.Flush();

        var third = new FileParseCache(dir.Path);
        Assert.True(third.TryGet("aaaa", out _));
        Assert.True(third.TryGet("bbbb", out _));
    }

    [Fact]
    public void A_small_addition_goes_to_the_delta_pack_and_a_large_one_folds_everything_into_the_main_pack()
    {
        using var dir = new TempDir();
        var first = new FileParseCache(dir.Path);
        for (var i = 0; i < 100; i++) first.Put($"base{i}", new byte[10_000]);
        first.Flush();
        var mainPack = File.ReadAllBytes(first.PackPath);

        var second = new FileParseCache(dir.Path);
        Assert.True(second.TryGet("base1", out _));
        second.Put("small", Bytes("one changed file"));
        second.Flush();

        Assert.Equal(mainPack, File.ReadAllBytes(second.PackPath));   // the 1 MB main pack was not rewritten
        Assert.True(File.Exists(second.DeltaPath));
        var third = new FileParseCache(dir.Path);
        Assert.True(third.TryGet("small", out var small));
        Assert.Equal("one changed file", Encoding.UTF8.GetString(small.Span));
        Assert.True(third.TryGet("base99", out _));

        third.Put("large", new byte[2_000_000]);   // beyond an eighth of the main pack and beyond 1 MB
        third.Flush();

        Assert.False(File.Exists(third.DeltaPath));
        var fourth = new FileParseCache(dir.Path);
        Assert.True(fourth.TryGet("small", out _));
        Assert.True(fourth.TryGet("large", out _));
        Assert.True(fourth.TryGet("base0", out _));
        Assert.Equal([FileParseCache.PackFileName], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Over_the_size_cap_only_entries_used_by_this_process_are_kept()
    {
        using var dir = new TempDir();
        var first = new FileParseCache(dir.Path);
        first.Put("old1", new byte[600]);
        first.Put("old2", new byte[600]);
        first.Flush();

        var second = new FileParseCache(dir.Path, maxPackBytes: 1000);
        Assert.True(second.TryGet("old1", out _));
        second.Put("new1", new byte[100]);
        second.Flush();

        var third = new FileParseCache(dir.Path);
        Assert.True(third.TryGet("old1", out _));
        Assert.True(third.TryGet("new1", out _));
        Assert.False(third.TryGet("old2", out _));
    }

    [Fact]
    public void A_corrupt_entry_is_a_miss_and_the_others_still_hit()
    {
        using var dir = new TempDir();
        var writer = new FileParseCache(dir.Path);
        writer.Put("aaaa", Bytes("first entry payload"));
        writer.Put("bbbb", Bytes("second entry payload"));
        writer.Flush();
        var pack = File.ReadAllBytes(writer.PackPath);
        var at = Encoding.ASCII.GetString(pack).IndexOf("first entry payload", StringComparison.Ordinal);
        pack[at] ^= 0xFF;
        File.WriteAllBytes(writer.PackPath, pack);

        var reader = new FileParseCache(dir.Path);
        Assert.False(reader.TryGet("aaaa", out _));
        Assert.True(reader.TryGet("bbbb", out var b));
        Assert.Equal("second entry payload", Encoding.UTF8.GetString(b.Span));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(13)]
    [InlineData(30)]
    public void A_truncated_or_garbage_pack_is_ignored_without_error(int keepBytes)
    {
        using var dir = new TempDir();
        var writer = new FileParseCache(dir.Path);
        writer.Put("aaaa", Bytes("payload"));
        writer.Put("bbbb", Bytes("payload"));
        writer.Flush();
        var pack = File.ReadAllBytes(writer.PackPath);
        File.WriteAllBytes(writer.PackPath, pack[..Math.Min(keepBytes, pack.Length)]);

        var reader = new FileParseCache(dir.Path);
        Assert.False(reader.TryGet("bbbb", out _));

        File.WriteAllBytes(writer.PackPath, Bytes("this is not a pack file at all, just text"));
        Assert.False(new FileParseCache(dir.Path).TryGet("aaaa", out _));
    }

    [Fact]
    public void Concurrent_writers_leave_a_whole_pack_and_no_temp_files()
    {
        using var dir = new TempDir();
        var caches = Enumerable.Range(0, 8).Select(_ => new FileParseCache(dir.Path)).ToList();
        for (var i = 0; i < caches.Count; i++)
            for (var j = 0; j < 200; j++)
                caches[i].Put($"id-{i}-{j}", Bytes($"payload {i} {j}"));

        Parallel.ForEach(caches, new ParallelOptions { MaxDegreeOfParallelism = 8 }, c => Assert.True(c.Flush()));

        var reader = new FileParseCache(dir.Path);
        var complete = Enumerable.Range(0, caches.Count).Count(i => Enumerable.Range(0, 200).All(j => reader.TryGet($"id-{i}-{j}", out _)));
        Assert.True(complete >= 1, "the last writer's entries must all be there");
        Assert.All(Directory.GetFiles(dir.Path).Select(Path.GetFileName), f => Assert.Contains(f, new[] { FileParseCache.PackFileName, FileParseCache.DeltaFileName }));
    }

    [Fact]
    public void An_unwritable_directory_is_not_an_error()
    {
        using var dir = new TempDir();
        var blocker = dir.Combine("file");
        File.WriteAllText(blocker, "a file where the cache directory would go");
        var cache = new FileParseCache(Path.Combine(blocker, "parse"));
        cache.Put("aaaa", Bytes("x"));
        Assert.False(cache.Flush());
        Assert.True(cache.TryGet("aaaa", out _));
    }
}
