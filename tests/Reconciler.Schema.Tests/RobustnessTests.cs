using System.Text;
using CsCheck;
using Reconciler.Schema.Loading;

namespace Reconciler.Schema.Tests;

/// <summary>Whatever bytes a file holds, loading gives diagnostics, never an exception.</summary>
public class RobustnessTests
{
    private static readonly string[] GoodFiles =
        FixtureRepo.Files().Where(f => RepoLoader.KindOf(f.Key, out _) is not null).Select(f => f.Key).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Random_bytes_never_throw()
    {
        Gen.Byte.Array[0, 300].Sample(bytes =>
        {
            var files = FixtureRepo.Files();
            files["services/api.yaml"] = bytes;
            var result = RepoLoader.Load(new InMemoryRepoSource(files));
            Assert.True(result.HasErrors || result.Model is not null);
        }, iter: 150);
    }

    [Fact]
    public void Good_files_with_yaml_punctuation_spliced_in_never_throw_and_every_error_has_a_location()
    {
        const string punctuation = ":-[]{}&*!|>'\"#%@`\t\n ,?~$()\\;.0";
        var gen =
            from file in Gen.Int[0, GoodFiles.Length - 1]
            from edits in Gen.Select(Gen.Int[0, 4000], Gen.Int[0, punctuation.Length - 1], Gen.Int[0, 3]).Array[1, 4]
            select (file, edits);

        gen.Sample(t =>
        {
            var files = FixtureRepo.Files();
            var path = GoodFiles[t.file];
            var text = new StringBuilder(Encoding.UTF8.GetString(files[path]));
            foreach (var (position, ch, deleteCount) in t.edits)
            {
                var at = position % (text.Length + 1);
                text.Remove(at, Math.Min(deleteCount, text.Length - at));
                text.Insert(at, punctuation[ch]);
            }
            files[path] = Encoding.UTF8.GetBytes(text.ToString());

            var result = RepoLoader.Load(new InMemoryRepoSource(files));

            Assert.All(result.Diagnostics.Where(d => d.RuleId != "repo.missing-file"), d => Assert.NotNull(d.Location));
        }, iter: 250);
    }
}
