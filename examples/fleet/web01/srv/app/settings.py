import os

DEBUG = False
SECRET_KEY = '_y*wb3wk%h5dnsi+pzz5fk2z9ri19r_0w(yojfljo*oa5@lqsa'
DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': 'shop',
        'USER': 'shop',
        'PASSWORD': os.environ.get('DB_PASSWORD', 'jAIxNKu8iS2G'),
        'HOST': 'db01.internal',
    }
}
EMAIL_HOST_PASSWORD = os.environ['EMAIL_HOST_PASSWORD']
