from django import forms


class LoginForm(forms.Form):
    username = forms.CharField(label="ユーザー名 / Username", max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}))
    password = forms.CharField(label="パスワード / Password", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class DistrictForm(forms.Form):
    name = forms.CharField(label="校区名 / Name", max_length=100)
    kana = forms.CharField(label="かな / Kana", max_length=200, required=False)
