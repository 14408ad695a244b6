using System.Runtime.InteropServices;

namespace Reconciler.State;

/// <summary>
/// Reads a whole file of a few megabytes (a plan snapshot) into memory that Linux may back with 2 MB pages. Every 4 KB
/// page a process touches for the first time is a page fault, and on the virtual machines measured one costs ~9 µs:
/// reading a 2.4 MB snapshot into a fresh array took 8.7 ms, almost all of it faults (docs/benchmarks.md, "Carried-over
/// entries stay records"). The array is pinned, its 2 MB-aligned interior is advised for transparent huge pages
/// (madvise MADV_HUGEPAGE: our own buffer, asked of the kernel, which may decline), and the file is read there. Smaller
/// files, other systems, or a kernel that declines: an ordinary read.
/// </summary>
internal static class HugePageFile
{
    private const int HugePage = 2 << 20;
    private const int MadviseHugePage = 14;   // MADV_HUGEPAGE, linux/mman.h

    /// <summary>The file's bytes, at an offset into the array returned.</summary>
    public static ArraySegment<byte> ReadAll(string path)
    {
        using var handle = File.OpenHandle(path);
        var length = RandomAccess.GetLength(handle);
        if (length > Array.MaxLength - HugePage) throw new IOException($"{path}: too large to read whole");
        ArraySegment<byte> bytes;
        if (!OperatingSystem.IsLinux() || length < HugePage) bytes = GC.AllocateUninitializedArray<byte>((int)length);
        else
        {
            var buffer = GC.AllocateUninitializedArray<byte>((int)length + HugePage, pinned: true);
            var address = Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0);
            var offset = (int)((HugePage - address % HugePage) % HugePage);
            var advised = length / HugePage * HugePage;   // the whole 2 MB pages the file fills, from the aligned offset
            if (advised > 0) Advise(address + offset, advised);
            bytes = new ArraySegment<byte>(buffer, offset, (int)length);
        }
        for (var read = 0; read < bytes.Count;)
        {
            var n = RandomAccess.Read(handle, bytes.AsSpan(read), read);
            if (n == 0) throw new EndOfStreamException($"{path}: shorter than it was");
            read += n;
        }
        return bytes;
    }

    /// <summary>Only advice: a kernel or C library that declines it (or lacks it) leaves ordinary pages.</summary>
    private static void Advise(nint address, long length)
    {
        try
        {
            _ = madvise(address, (nuint)length, MadviseHugePage);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    // DllImport rather than LibraryImport: the latter's generated code needs AllowUnsafeBlocks project-wide.
    [DllImport("libc", SetLastError = true)]
    private static extern int madvise(nint address, nuint length, int advice);
}
