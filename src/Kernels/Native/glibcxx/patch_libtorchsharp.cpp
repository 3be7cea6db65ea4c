// Makes TorchSharp's libLibTorchSharp.so (built with GCC 13) load on a system whose
// libstdc++ lacks GLIBCXX_3.4.32, editing fixed-size fields of the ELF file in place:
//   1. the GLIBCXX_3.4.32 entry of .gnu.version_r gets VER_FLG_WEAK, so a missing
//      version no longer fails the load;
//   2. _ZSt21ios_base_library_initv (the only symbol of that version) loses its version;
//   3. a DT_NEEDED entry names our shim, which defines the symbol; the entry reuses the
//      DT_SYMBOLIC slot (redundant with DF_SYMBOLIC in DT_FLAGS) and the string goes in
//      the tail of the RUNPATH string, whose first element ($ORIGIN/) is kept.
// It is a no-op when the running libstdc++ already provides the version, and idempotent.
//
// usage: patch_libtorchsharp <output-dir> <path-of-shim.so>
#include <dlfcn.h>
#include <elf.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

constexpr const char* kVersion = "GLIBCXX_3.4.32";
constexpr const char* kSymbol = "_ZSt21ios_base_library_initv";

struct Elf {
    std::vector<char> bytes;
    Elf64_Ehdr* header() { return reinterpret_cast<Elf64_Ehdr*>(bytes.data()); }
    Elf64_Shdr* section(size_t i) {
        return reinterpret_cast<Elf64_Shdr*>(bytes.data() + header()->e_shoff + i * header()->e_shentsize);
    }
    Elf64_Shdr* section_of_type(Elf64_Word type) {
        for (size_t i = 0; i < header()->e_shnum; ++i)
            if (section(i)->sh_type == type) return section(i);
        return nullptr;
    }
    template <typename T> T* at(size_t offset) { return reinterpret_cast<T*>(bytes.data() + offset); }
};

bool system_has_version() {
    return dlvsym(RTLD_DEFAULT, kSymbol, kVersion) != nullptr;
}

std::string patch(const fs::path& file, const std::string& shim_name) {
    Elf elf;
    {
        std::ifstream in(file, std::ios::binary);
        elf.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    if (elf.bytes.size() < sizeof(Elf64_Ehdr) || std::memcmp(elf.bytes.data(), ELFMAG, SELFMAG) != 0 ||
        elf.header()->e_ident[EI_CLASS] != ELFCLASS64)
        return "not a 64-bit ELF file";

    Elf64_Shdr* verneed = elf.section_of_type(SHT_GNU_verneed);
    Elf64_Shdr* versym = elf.section_of_type(SHT_GNU_versym);
    Elf64_Shdr* dynsym = elf.section_of_type(SHT_DYNSYM);
    Elf64_Shdr* dynamic = elf.section_of_type(SHT_DYNAMIC);
    if (!verneed || !versym || !dynsym || !dynamic) return "missing dynamic sections";
    const char* dynstr = elf.at<char>(elf.section(dynamic->sh_link)->sh_offset);

    // 1. weak version requirement
    Elf64_Half version_index = 0;
    bool already_weak = false;
    size_t offset = verneed->sh_offset;
    for (;;) {
        auto* need = elf.at<Elf64_Verneed>(offset);
        size_t aux_offset = offset + need->vn_aux;
        for (Elf64_Half a = 0; a < need->vn_cnt; ++a) {
            auto* aux = elf.at<Elf64_Vernaux>(aux_offset);
            if (std::strcmp(dynstr + aux->vna_name, kVersion) == 0) {
                version_index = aux->vna_other;
                already_weak = (aux->vna_flags & VER_FLG_WEAK) != 0;
                aux->vna_flags |= VER_FLG_WEAK;
            }
            aux_offset += aux->vna_next;
        }
        if (need->vn_next == 0) break;
        offset += need->vn_next;
    }
    if (version_index == 0) return "no " + std::string(kVersion) + " requirement (nothing to do)";
    if (already_weak) return "already patched";

    // 2. unversioned symbol
    auto* symbols = elf.at<Elf64_Sym>(dynsym->sh_offset);
    auto* versions = elf.at<Elf64_Half>(versym->sh_offset);
    size_t count = dynsym->sh_size / sizeof(Elf64_Sym);
    for (size_t i = 0; i < count; ++i) {
        if ((versions[i] & 0x7fff) != version_index) continue;
        if (std::strcmp(dynstr + symbols[i].st_name, kSymbol) != 0)
            return std::string("unexpected symbol of version ") + kVersion + ": " + (dynstr + symbols[i].st_name);
        versions[i] = VER_NDX_GLOBAL;
    }

    // 3. DT_NEEDED for the shim
    auto* entries = elf.at<Elf64_Dyn>(dynamic->sh_offset);
    size_t n = dynamic->sh_size / sizeof(Elf64_Dyn);
    Elf64_Dyn *symbolic = nullptr, *runpath = nullptr;
    bool flags_symbolic = false;
    for (size_t i = 0; i < n && entries[i].d_tag != DT_NULL; ++i) {
        if (entries[i].d_tag == DT_SYMBOLIC) symbolic = &entries[i];
        if (entries[i].d_tag == DT_RUNPATH || entries[i].d_tag == DT_RPATH) runpath = &entries[i];
        if (entries[i].d_tag == DT_FLAGS && (entries[i].d_un.d_val & DF_SYMBOLIC)) flags_symbolic = true;
    }
    if (!symbolic || !flags_symbolic || !runpath) return "no reusable dynamic entry for the shim";
    char* path = const_cast<char*>(dynstr) + runpath->d_un.d_val;
    size_t path_length = std::strlen(path);
    size_t keep = std::strcspn(path, ":");
    if (keep + 1 + shim_name.size() + 1 > path_length + 1) return "RUNPATH string too short for the shim name";
    path[keep] = '\0';
    std::memcpy(path + keep + 1, shim_name.c_str(), shim_name.size() + 1);
    symbolic->d_tag = DT_NEEDED;
    symbolic->d_un.d_val = runpath->d_un.d_val + keep + 1;

    fs::path temporary = file;
    temporary += ".patching";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out.write(elf.bytes.data(), static_cast<std::streamsize>(elf.bytes.size()));
        if (!out) return "cannot write " + temporary.string();
    }
    fs::permissions(temporary, fs::status(file).permissions());
    fs::rename(temporary, file);
    return "patched";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: patch_libtorchsharp <output-dir> <shim.so>\n";
        return 2;
    }
    fs::path root = argv[1], shim = argv[2];
    if (system_has_version()) {
        std::cout << "patch_libtorchsharp: system libstdc++ has " << kVersion << "; nothing to do\n";
        return 0;
    }
    if (!fs::exists(root)) return 0;
    int failures = 0;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        if (!entry.is_regular_file() || entry.path().filename() != "libLibTorchSharp.so") continue;
        std::string result = patch(entry.path(), shim.filename().string());
        fs::path target = entry.path().parent_path() / shim.filename();
        fs::copy_file(shim, target, fs::copy_options::update_existing);
        bool ok = result == "patched" || result == "already patched";
        if (!ok) ++failures;
        std::cout << "patch_libtorchsharp: " << entry.path().string() << ": " << result << "\n";
    }
    return failures == 0 ? 0 : 1;
}
