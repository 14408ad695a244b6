using Reconciler.State;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>HugePageFile reads a file at an offset into a larger, advised buffer: it must give the file's bytes exactly,
/// as File.ReadAllBytes does, on both sides of the 2 MB size where it starts to advise.</summary>
public sealed class HugePageFileTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("reconciler-hugepage-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4096)]
    [InlineData((2 << 20) - 1)]
    [InlineData(2 << 20)]
    [InlineData((5 << 20) + 123)]
    public void Reads_the_files_bytes_exactly(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        var path = Path.Combine(_directory.FullName, $"{length}.bin");
        File.WriteAllBytes(path, bytes);
        var read = HugePageFile.ReadAll(path);
        Assert.Equal(length, read.Count);
        Assert.True(read.AsSpan().SequenceEqual(File.ReadAllBytes(path)));
    }

    [Fact]
    public void A_file_that_is_not_there_is_an_io_error()
    {
        Assert.ThrowsAny<IOException>(() => HugePageFile.ReadAll(Path.Combine(_directory.FullName, "absent")));
    }
}
