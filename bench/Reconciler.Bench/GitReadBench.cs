using System.Diagnostics;
using Reconciler.Git;

namespace Reconciler.Bench;

/// <summary>
/// Times the parts of a load that are Git and cache I/O only (no YAML): listing and reading every infra file of
/// a commit, and reading the same number of cache entries from one pack versus one file per entry. The numbers
/// behind the pack-file choice in FileParseCache (docs/benchmarks/repo.md).
/// </summary>
public static class GitReadBench
{
    public static void Run(string directory, int rounds)
    {
        for (var round = 0; round < rounds; round++)
        {
            var sw = Stopwatch.StartNew();
            using var source = GitRepoSource.Open(directory, "HEAD");
            var files = source.ListFiles();
            var listed = sw.Elapsed;
            long bytes = 0;
            foreach (var f in files) bytes += f.ReadContent().Length;
            Console.WriteLine($"git: list {files.Count} files {listed.TotalMilliseconds:F0} ms, list+read {bytes / 1024} KiB {sw.Elapsed.TotalMilliseconds:F0} ms");

            var tree = Stopwatch.StartNew();
            var wt = WorkingTreeSource.Open(directory);
            Console.WriteLine($"working tree: {wt.ListFiles().Count} files read+hashed+compared with HEAD {tree.Elapsed.TotalMilliseconds:F0} ms");
        }

        // Cache layouts: entries of a typical size (a parsed service is a few KB of JSON).
        var ids = Enumerable.Range(0, 15_000).Select(i => WorkingTreeSource.BlobId(BitConverter.GetBytes(i))).ToList();
        var payload = new byte[4096];
        Random.Shared.NextBytes(payload);
        var root = Directory.CreateTempSubdirectory("reconciler-cache-bench-").FullName;
        try
        {
            var packDir = Path.Combine(root, "pack");
            var writer = new FileParseCache(packDir);
            foreach (var id in ids) writer.Put(id, payload);
            var sw = Stopwatch.StartNew();
            writer.Flush();
            Console.WriteLine($"pack: write {ids.Count} entries {sw.Elapsed.TotalMilliseconds:F0} ms ({new FileInfo(writer.PackPath).Length / 1024 / 1024} MiB)");

            var filesDir = Path.Combine(root, "files");
            Directory.CreateDirectory(filesDir);
            sw.Restart();
            foreach (var id in ids)
            {
                var tmp = Path.Combine(filesDir, id + ".tmp");
                File.WriteAllBytes(tmp, payload);
                File.Move(tmp, Path.Combine(filesDir, id), overwrite: true);
            }
            Console.WriteLine($"files: write {ids.Count} entries (temp+rename each) {sw.Elapsed.TotalMilliseconds:F0} ms");

            for (var round = 0; round < rounds; round++)
            {
                sw.Restart();
                var reader = new FileParseCache(packDir);
                var hits = ids.Count(id => reader.TryGet(id, out _));
                Console.WriteLine($"pack: read {hits} entries {sw.Elapsed.TotalMilliseconds:F0} ms");
                sw.Restart();
                hits = ids.Count(id => File.Exists(Path.Combine(filesDir, id)) && File.ReadAllBytes(Path.Combine(filesDir, id)).Length > 0);
                Console.WriteLine($"files: read {hits} entries {sw.Elapsed.TotalMilliseconds:F0} ms");
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
