using LlmEngine.Kernels.Native;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using TorchSharp;

namespace LlmEngine.Kernels.Loading;

/// <summary>A weights file mapped read-only into memory. Loading a tensor copies straight from the
/// page cache into the tensor's memory, so a multi-gigabyte file never passes through a managed
/// array and only the tensors asked for are read.</summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _start;
    private bool _disposed;

    private MappedFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        Length = length;
        _map = map;
        _view = view;
        byte* start = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        _start = start + view.PointerOffset;
    }

    public string Path { get; }
    public long Length { get; }

    public static MappedFile Open(string path)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ModelLoadException($"{path}: file not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException($"{path}: cannot open ({e.Message})", e);
        }

        // An empty file cannot be mapped; say so rather than surface the mapping API's complaint.
        long length = stream.Length;
        if (length == 0)
        {
            stream.Dispose();
            throw new ModelLoadException($"{path}: file is empty");
        }

        var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        return new MappedFile(path, length, map, view);
    }

    /// <summary>Bytes at [offset, offset + count); the caller has checked the range.</summary>
    public ReadOnlySpan<byte> Bytes(long offset, int count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new ReadOnlySpan<byte>(_start + offset, count);
    }

    /// <summary>The mapped byte at <paramref name="offset"/>; valid while the mapping is (see <see cref="Lease"/>).</summary>
    public byte* Pointer(long offset)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _start + offset;
    }

    /// <summary>Keeps the mapping alive until the lease is disposed, even past this file's own
    /// <see cref="Dispose"/>: views of the file (quantized weights) may outlive the loader.</summary>
    public IDisposable Lease()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new MappingLease(_view.SafeMemoryMappedViewHandle);
    }

    private sealed class MappingLease : IDisposable
    {
        private SafeHandle? _handle;

        public MappingLease(SafeHandle handle)
        {
            bool added = false;
            handle.DangerousAddRef(ref added);
            _handle = handle;
        }

        public void Dispose() => Interlocked.Exchange(ref _handle, null)?.DangerousRelease();
    }

    /// <summary>A new tensor of <paramref name="dtype"/> from the elements of
    /// <paramref name="storedDtype"/> at <paramref name="offset"/>; the caller has checked that
    /// numel * element size bytes lie inside the file.</summary>
    public torch.Tensor ReadTensor(long offset, long[] shape, torch.ScalarType storedDtype, torch.ScalarType dtype)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var stored = TensorMemory.Copy(_start + offset, shape, storedDtype);
        if (storedDtype == dtype) return stored;
        using (stored) return stored.to(dtype);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
