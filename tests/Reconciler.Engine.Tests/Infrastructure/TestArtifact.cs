using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Reconciler.Engine.Tests.Infrastructure;

/// <summary>A .tar.gz release artifact built in a test, with its sha256 (what artifact.sha256 pins).</summary>
public sealed record TestArtifact(string Path, string Sha256)
{
    /// <summary>Files as relative path -> content; names under bin/ are made executable.</summary>
    public static TestArtifact Create(string directory, string name, IReadOnlyDictionary<string, string> files)
    {
        System.IO.Directory.CreateDirectory(directory);
        var path = System.IO.Path.Combine(directory, name);
        using (var file = File.Create(path))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Ustar))
        {
            foreach (var (relative, content) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                var executable = relative.StartsWith("bin/", StringComparison.Ordinal);
                tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, relative)
                {
                    Mode = executable ? (UnixFileMode)0b111_101_101 : (UnixFileMode)0b110_100_100,
                    DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)),
                });
            }
        }
        return new TestArtifact(path, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))));
    }

    /// <summary>An artifact whose bin/restart records who restarted it (service, release, host, first argument)
    /// in DEPLOY/restarted, and whose bin/stop writes DEPLOY/stopped.</summary>
    public static TestArtifact WithRestartRecorder(string directory, string name = "app.tar.gz", string marker = "v1") =>
        Create(directory, name, new Dictionary<string, string>
        {
            ["bin/restart"] = "#!/bin/sh\nprintf '%s %s %s %s\\n' \"$RECONCILER_SERVICE\" \"$RECONCILER_RELEASE\" \"$RECONCILER_HOST\" \"$1\" > \"$RECONCILER_DEPLOY_PATH/restarted\"\n",
            ["bin/stop"] = "#!/bin/sh\necho stopped > \"$RECONCILER_DEPLOY_PATH/stopped\"\n",
            ["VERSION"] = marker + "\n",
        });
}
