using System.Diagnostics;
using System.Globalization;
using Reconciler.Schema.Loading;

/// <summary>
/// `yaml DIR [fast|yamldotnet] [rounds=5]`: YamlToJson.Convert over every .yaml/.yml file under DIR (read into memory
/// first), one file after another on one thread, with the fast path on or off (docs/benchmarks/repo.md). Prints the
/// first round (includes JIT) and the best later round, as CPU time of the process and wall time.
/// </summary>
internal static class YamlBench
{
    public static void Run(string directory, bool fastPath, int rounds)
    {
        var files = Directory.EnumerateFiles(directory, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
            .Where(f => !f.Contains("/.git/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(File.ReadAllBytes)
            .ToArray();
        var bytes = files.Sum(f => (long)f.Length);
        var process = Process.GetCurrentProcess();
        var best = TimeSpan.MaxValue;
        for (var round = 0; round < rounds; round++)
        {
            process.Refresh();
            var cpu = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            var fast = 0;
            var nodes = 0L;
            foreach (var file in files)
            {
                var (_, map, _) = YamlToJson.Convert(file, fastPath, out var usedFastPath);
                if (usedFastPath) fast++;
                nodes += map.Count;
            }
            sw.Stop();
            process.Refresh();
            var used = process.TotalProcessorTime - cpu;
            if (round > 0 && used < best) best = used;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {round + 1}: {files.Length} files, {bytes / 1024} KB, {nodes} nodes, fast path {fast}/{files.Length}: cpu={used.TotalMilliseconds:F0}ms wall={sw.Elapsed.TotalMilliseconds:F0}ms"));
        }
        process.Refresh();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{(fastPath ? "fast" : "yamldotnet")}: best later round cpu={best.TotalMilliseconds:F0}ms; process cpu={process.TotalProcessorTime.TotalMilliseconds:F0}ms"));
    }
}
