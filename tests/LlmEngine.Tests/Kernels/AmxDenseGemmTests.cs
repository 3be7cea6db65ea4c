using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlmEngine.Tests.Kernels;

/// <summary>
/// The packed bfloat16 GEMM on AMX tiles against the AVX-512 kernel on the same packed weight. The tiles sum in
/// another order than the AVX-512 chain (measured: about half the float32 outputs differ in the last bits), so
/// the two agree within their roundings: each is a float32 sum of k exact products, within k float32 roundings
/// of the sum of magnitudes, and a bfloat16 output one rounding more. Row counts past and short of whole tiles
/// of 16 and 32, odd inner sizes and ones that are not whole blocks of 32, widths that are not whole groups.
/// Where the CPU has no AMX-BF16 (or LLM_AMX=0) nothing runs on tiles and these tests have nothing to compare.
/// </summary>
public class AmxDenseGemmTests
{
    private static (Tensor X, Tensor W) Inputs(long m, long k, long n)
    {
        using var generator = new Generator((ulong)(m * 131 + k * 7 + n));
        return (randn(new[] { m, k }, generator: generator).to(bfloat16), randn(new[] { n, k }, generator: generator).mul(0.05).to(bfloat16));
    }

    public static TheoryData<long, long, long> Shapes() => new()
    {
        { 1, 768, 2304 }, { 3, 33, 37 }, { 16, 64, 48 }, { 17, 96, 65 }, { 33, 31, 17 }, { 64, 2048, 100 }, { 130, 800, 50 },
        { 2048, 97, 33 }, { 5, 1, 16 }, { 20, 7, 130 },
        // One and two rows over 4, 5 and 9 groups (blocks of 4: a last pass of one group).
        { 1, 97, 50 }, { 2, 64, 80 }, { 2, 33, 130 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void AmxTilesGiveTheAvx512ProductWithinTheirRoundings(long m, long k, long n)
    {
        if (!PackedDenseWeight.AmxEnabled) return;  // no AMX-BF16 here (or LLM_AMX=0): nothing runs on tiles
        using var temporaries = torch.NewDisposeScope();
        var (x, w) = Inputs(m, k, n);
        using var packed = PackedDenseWeight.TryPack(w)!;
        using var magnitude = F.linear(x.to(float64).abs(), w.to(float64).abs());
        foreach (var dtype in new[] { float32, bfloat16 })
        {
            using var amx = empty(new[] { m, n }, dtype: dtype).fill_(float.NaN);
            using var avx512 = empty(new[] { m, n }, dtype: dtype).fill_(float.NaN);
            packed.Apply(amx, x, DenseKernel.Amx);
            packed.Apply(avx512, x, DenseKernel.Avx512);
            using var a = amx.to(float64);
            using var b = avx512.to(float64);
            using var difference = (a - b).abs();
            double rounding = dtype == bfloat16 ? 1.0 / 256 : 0;
            using var allowed = (a.abs() + b.abs()).mul(rounding).add(magnitude.mul(2 * k * 6e-8)).add(1e-30);
            Assert.True(difference.le(allowed).all().item<bool>(), $"{dtype} output: max difference {difference.max().item<double>()}");
        }
    }

    [Fact]
    public void OnAmxTilesEveryRowGivesTheSameBitsWhateverElseIsInItsBatch()
    {
        if (!PackedDenseWeight.AmxEnabled) return;  // no AMX-BF16 here (or LLM_AMX=0): nothing runs on tiles
        using var temporaries = torch.NewDisposeScope();
        // Row tiles of fewer than 16 rows (a configuration of m rows), a padded copy of the last rows, whole tiles:
        // each row's sums run the same blocks of k in the same order.
        var (x, w) = Inputs(300, 100, 97);
        using var packed = PackedDenseWeight.TryPack(w)!;
        BatchInvariance.AssertEveryRowUnchanged(x, [1, 2, 3, 8, 15, 16, 17, 31, 32, 33, 64, 130, 257], part =>
        {
            var output = empty(new[] { part.shape[0], 97 }, dtype: float32);
            packed.Apply(output, part, DenseKernel.Amx);
            return output;
        });
    }

    [Fact]
    public void WhereAmxIsEnabledEveryProductRunsOnTiles()
    {
        if (!PackedDenseWeight.AmxEnabled) return;  // no AMX-BF16 here (or LLM_AMX=0): nothing runs on tiles
        using var temporaries = torch.NewDisposeScope();
        var (x, w) = Inputs(40, 256, 64);
        using var packed = PackedDenseWeight.TryPack(w)!;
        foreach (long rows in new long[] { 1, 8, 40 })
        {
            using var part = x[..(int)rows];
            using var auto = empty(new[] { rows, 64L }, dtype: float32);
            using var amx = empty(new[] { rows, 64L }, dtype: float32);
            packed.Apply(auto, part);
            packed.Apply(amx, part, DenseKernel.Amx);
            Assert.True(auto.eq(amx).all().item<bool>(), $"{rows} rows");
        }
    }
}
